import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Outbox } from "../../../actors/runtime/outbox.ts";
import { createLogger } from "../../../infra/log.ts";
import { connectNats } from "../../../infra/nats.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";
import { readSubject } from "../../support/stream-read.ts";

const log = createLogger("test", process.env.RT_LOG ?? "silent");
const enc = new TextEncoder();
const dec = new TextDecoder();

describe("the outbox's order of publishes to one subject, when a publish fails and is retried (real nats-server)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "outbox-test");
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  /**
   * Publishes "first" while no stream holds the subject (it is not stored; the outbox retries it
   * with backoff), makes the stream, publishes "second" at once, and returns the bodies in
   * the order the stream stored them.
   */
  async function storedOrder(name: string, ordered: boolean): Promise<string[]> {
    const subject = `ob.${name}.actor`;
    const outbox = new Outbox({ js: jetstream(nc), log });
    outbox.publish(subject, enc.encode("first"), `${name}-1`, ordered);
    // let the first attempt be refused
    await new Promise((r) => setTimeout(r, 10));
    await jsm.streams.add({ name: `OB_${name.toUpperCase()}`, subjects: [`ob.${name}.>`] });
    outbox.publish(subject, enc.encode("second"), `${name}-2`, ordered);
    await outbox.flush();
    const msgs = await readSubject(nc, `OB_${name.toUpperCase()}`, subject);
    return msgs.map((m) => dec.decode(m.data));
  }

  it("unordered: the retried publish is stored after the later one (what ordered sends prevent)", async () => {
    expect(await storedOrder("loose", false)).toEqual(["second", "first"]);
  });

  it("ordered: stored in the order published, the retry included", async () => {
    expect(await storedOrder("kept", true)).toEqual(["first", "second"]);
  });

  it("ordered publishes to different subjects do not wait for each other", async () => {
    const outbox = new Outbox({ js: jetstream(nc), log });
    await jsm.streams.add({ name: "OB_PAR", subjects: ["obp.>"] });
    // a subject no stream holds keeps being retried; another subject's ordered publish is stored meanwhile
    outbox.publish("obq.nowhere", enc.encode("stuck"), "par-1", true);
    outbox.publish("obp.b", enc.encode("free"), "par-2", true);
    await eventually("the other subject's publish stored while the first is still retried",
      async () => (await jsm.streams.info("OB_PAR")).state.messages >= 1, 10_000, 20);
    expect(outbox.size).toBe(1);
    outbox.abandon();
    await expect(outbox.flush()).rejects.toThrow(/abandoned/);
  });

  it("coalesced: sends to one actor made while its store is retried are stored after it as one batch, without a Nats-Msg-Id", async () => {
    const outbox = new Outbox({ js: jetstream(nc), log });
    const a = "obc.space.a", b = "obc.space.b";
    outbox.coalesce(a, JSON.stringify({ key: "k1" }), "co-1"); // no stream holds it yet: retried
    await new Promise((r) => setTimeout(r, 10));
    outbox.coalesce(a, JSON.stringify({ key: "k2" }), "co-2");
    outbox.coalesce(a, JSON.stringify({ key: "k3" }), "co-3");
    outbox.coalesce(b, JSON.stringify({ key: "k4" }), "co-4"); // another actor: its own lane, alone
    expect(outbox.size).toBe(4);
    await jsm.streams.add({ name: "OB_CO", subjects: ["obc.>"] });
    await outbox.flush();
    expect(outbox.size).toBe(0);

    const onA = await readSubject(nc, "OB_CO", a);
    expect(onA.map((m) => m.json<unknown>())).toEqual([{ key: "k1" }, { type: "batch", items: [{ key: "k2" }, { key: "k3" }] }]);
    expect(onA[0]!.headers?.get("Nats-Msg-Id")).toBe("co-1");
    expect(onA[1]!.headers?.get("Nats-Msg-Id") ?? "").toBe("");
    const onB = await readSubject(nc, "OB_CO", b);
    expect(onB.map((m) => m.json<unknown>())).toEqual([{ key: "k4" }]);
    expect(onB[0]!.headers?.get("Nats-Msg-Id")).toBe("co-4");
    expect(outbox.coalesced).toEqual({ batches: 1, items: 2 });
  });

  it("coalesced sends of an abandoned outbox are rejected, waiting ones included", async () => {
    const outbox = new Outbox({ js: jetstream(nc), log });
    outbox.coalesce("obz.nowhere", "1", "z-1");
    outbox.coalesce("obz.nowhere", "2", "z-2");
    await new Promise((r) => setTimeout(r, 20));
    outbox.abandon();
    await expect(outbox.flush()).rejects.toThrow(/abandoned/);
    expect(() => outbox.coalesce("obz.nowhere", "3", "z-3")).toThrow(/abandoned/);
    // the one being retried stops at its next attempt, and the one waiting behind it is not sent
    await eventually("every coalesced send settled", async () => outbox.size === 0, 10_000, 20);
  });
});
