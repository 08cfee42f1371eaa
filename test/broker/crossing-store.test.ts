import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { CrossingMsg } from "../../contracts/occupancy-messages.ts";
import { CrossingEvent } from "../../contracts/crossing.ts";
import { STREAM_ACTORS, actorSubject, parseActorSubject } from "../../contracts/nats-layout.ts";
import { connectNats } from "../../infra/nats.ts";
import { provisionNats } from "../../infra/provision.ts";
import { ActorPublisher } from "../../broker/actor-publisher.ts";
import { storeCrossings } from "../../broker/device-messages/crossing.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { device } from "./broker-fixture.ts";

const ev = (id: string, doorway = "d1", delta: 1 | -1 = 1) => CrossingEvent.parse({ id, ts: Date.UTC(2026, 0, 1), doorway, delta });

describe("storeCrossings through the ActorPublisher (real JetStream)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  const [dpu] = device("dpu-b", { doorway: "d1", site: "tower" });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "publisher-test");
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  it("rejects when JetStream does not store the events (no stream yet)", async () => {
    const publisher = new ActorPublisher(jetstream(nc, { timeout: 1000 }), { partitions: 4 });
    await expect(storeCrossings(publisher, dpu, [ev("x1"), ev("x2")], Date.now())).rejects.toThrow(/did not confirm 2 of 2 crossings from dpu-b/);
  });

  it("stores one CrossingMsg per event on the doorway actor's subject, counts duplicates, bounded in flight", async () => {
    await provisionNats(nc, { leaseTtlMs: 3000 });
    const publisher = new ActorPublisher(jetstream(nc), { partitions: 4, maxInFlight: 3 });
    const receivedAt = Date.now();
    const a = Array.from({ length: 60 }, (_, i) => ev(`a${i}`, "d1", i % 2 ? 1 : -1));
    const b = Array.from({ length: 40 }, (_, i) => ev(`b${i}`));
    const [ra, rb] = await Promise.all([storeCrossings(publisher, dpu, a, receivedAt), storeCrossings(publisher, dpu, b, receivedAt)]);
    expect(ra).toEqual({ stored: 60, duplicates: 0 });
    expect(rb).toEqual({ stored: 40, duplicates: 0 });
    expect(publisher.inFlight).toBe(0);
    // a retry of an overlapping batch stores only the new events
    expect(await storeCrossings(publisher, dpu, [...b.slice(0, 10), ev("c1")], receivedAt)).toEqual({ stored: 1, duplicates: 10 });

    const jsm = await jetstreamManager(nc);
    const subject = actorSubject("doorway", "tower.d1", 4);
    expect(parseActorSubject(subject)).toMatchObject({ kind: "doorway", id: "tower.d1" });
    expect((await jsm.streams.info(STREAM_ACTORS, { subjects_filter: subject })).state.messages).toBe(101);
    const first = await jsm.streams.getMessage(STREAM_ACTORS, { seq: 1 });
    expect(first?.subject).toBe(subject);
    expect(first?.header.get("Nats-Msg-Id")).toBe("dpu-b:a0");
    expect(CrossingMsg.parse(first?.json())).toEqual({
      type: "crossing", site: "tower", doorway: "d1", device: "dpu-b", eventId: "a0", ts: Date.UTC(2026, 0, 1), delta: -1, receivedAt,
    });
  });
});
