import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { actorBodies, isActorBatch } from "../../contracts/actor-batch.ts";
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

  it("coalesced, rejects every waiting crossing when JetStream does not store their batch", async () => {
    const publisher = new ActorPublisher(jetstream(nc, { timeout: 1000 }), { partitions: 4 });
    const a = storeCrossings(publisher, dpu, [ev("y1"), ev("y2")], Date.now(), { coalesce: true });
    const b = storeCrossings(publisher, dpu, [ev("y3")], Date.now(), { coalesce: true });
    await expect(a).rejects.toThrow(/did not confirm 2 of 2 crossings from dpu-b/);
    await expect(b).rejects.toThrow(/did not confirm 1 of 1 crossings from dpu-b/);
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

  it("coalesced: a doorway's crossings of one turn, and those arriving while its store is in flight, are stored as one batch each", async () => {
    const publisher = new ActorPublisher(jetstream(nc), { partitions: 4 });
    const jsm = await jetstreamManager(nc);
    const d3 = actorSubject("doorway", "tower.d3", 4);
    const d4 = actorSubject("doorway", "tower.d4", 4);
    const [dpu3] = device("dpu-3", { doorway: "d3", site: "tower" });
    const [dpu4] = device("dpu-4", { doorway: "d4", site: "tower" });
    const first = await jsm.streams.info(STREAM_ACTORS).then((i) => i.state.last_seq + 1);
    const receivedAt = Date.now();
    const co = { coalesce: true };

    // one turn: two payloads of d3 and one lone crossing of d4
    const turn = Promise.all([
      storeCrossings(publisher, dpu3, [ev("p1", "d3"), ev("p2", "d3")], receivedAt, co),
      storeCrossings(publisher, dpu3, [ev("p3", "d3")], receivedAt, co),
      storeCrossings(publisher, dpu4, [ev("q1", "d4")], receivedAt, co),
    ]);
    // the lanes have sent their stores (setImmediate runs in order) and no answer can have come
    // back yet: what d3 gets now waits for its store in flight
    await new Promise((r) => setImmediate(r));
    const behind = Promise.all([
      storeCrossings(publisher, dpu3, [ev("p4", "d3")], receivedAt, co),
      storeCrossings(publisher, dpu3, [ev("p5", "d3"), ev("p1", "d3")], receivedAt, co), // p1 again: stored again, the actor drops it
    ]);
    expect(await turn).toEqual([{ stored: 2, duplicates: 0 }, { stored: 1, duplicates: 0 }, { stored: 1, duplicates: 0 }]);
    expect(await behind).toEqual([{ stored: 1, duplicates: 0 }, { stored: 2, duplicates: 0 }]);
    expect(publisher.coalesced).toEqual({ batches: 2, items: 6 });

    const msgs = await Promise.all([first, first + 1, first + 2].map((seq) => jsm.streams.getMessage(STREAM_ACTORS, { seq })));
    const ids = (m: (typeof msgs)[number]) => actorBodies(m?.json<unknown>()).map((b) => CrossingMsg.parse(b).eventId);
    expect(msgs.map((m) => m?.subject)).toEqual([d3, d4, d3]);
    expect(msgs.map(ids)).toEqual([["p1", "p2", "p3"], ["q1"], ["p4", "p5", "p1"]]);
    // a lone crossing is stored as itself, with its id (JetStream de-duplicates its retries); a batch has none
    expect(isActorBatch(msgs[1]?.json<unknown>())).toBe(false);
    expect(msgs[1]?.header.get("Nats-Msg-Id")).toBe("dpu-4:q1");
    expect(msgs[0]?.header.get("Nats-Msg-Id") ?? "").toBe("");
    expect(await storeCrossings(publisher, dpu4, [ev("q1", "d4")], receivedAt, co)).toEqual({ stored: 0, duplicates: 1 });
  });
});
