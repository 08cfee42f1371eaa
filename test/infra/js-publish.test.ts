import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connectNats } from "../../infra/nats.ts";
import { JetStreamPublisher, JetStreamPublishError, UnconfirmedDuplicateError } from "../../infra/js-publish.ts";
import { ActorPublisher } from "../../broker/actor-publisher.ts";
import { provisionNats } from "../../infra/provision.ts";
import { startTestServices, type TestServices } from "../support/services.ts";

/**
 * Counts the RequestErrors @nats-io/nats-core constructs (each captures a stack trace) while fn
 * runs: its request path looks the class up on its errors module at call time, so a counting
 * subclass put there sees every one.
 */
async function requestErrorsDuring(fn: () => Promise<unknown>): Promise<number> {
  const require = createRequire(import.meta.url);
  const core = path.dirname(require.resolve("@nats-io/nats-core")); // its lib/ folder
  const errors = require(path.join(core, "errors.js")) as { RequestError: new (...a: never[]) => Error };
  const Original = errors.RequestError;
  let made = 0;
  errors.RequestError = class extends (Original as new (...a: unknown[]) => Error) {
    constructor(...a: unknown[]) { super(...a); made++; }
  } as unknown as typeof Original;
  try {
    await fn();
  } finally {
    errors.RequestError = Original;
  }
  return made;
}

describe("JetStreamPublisher: JetStream publishes without the request machinery (real nats-server)", () => {
  let s: TestServices;
  let nc: NatsConnection;

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "js-publish-test");
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "T", subjects: ["t.>"], storage: StorageType.Memory, retention: RetentionPolicy.Limits, duplicate_window: 60_000_000_000 });
    await jsm.streams.add({ name: "FULL", subjects: ["full.>"], storage: StorageType.Memory, max_msgs: 1, discard: DiscardPolicy.New });
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  it("builds no Error for a successful publish, where js.publish() of @nats-io builds one each (noAsyncTraces or not)", async () => {
    const js = jetstream(nc);
    const upstream = await requestErrorsDuring(async () => {
      for (let i = 0; i < 20; i++) await js.publish("t.upstream", `u${i}`, { msgID: `u${i}` });
    });
    expect(upstream).toBeGreaterThanOrEqual(20); // the upstream cost this publisher avoids

    const publisher = new JetStreamPublisher(nc);
    const ours = await requestErrorsDuring(() => Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish("t.ours", `o${i}`, `o${i}`))));
    expect(ours).toBe(0);

    // and so through the broker's ActorPublisher
    await provisionNats(nc, { leaseTtlMs: 3000 });
    const actors = new ActorPublisher(jetstream(nc), { partitions: 4 });
    const broker = await requestErrorsDuring(() => Promise.all(Array.from({ length: 20 }, (_, i) => actors.publish("doorway", "mall.d1", { i }, `a${i}`))));
    expect(broker).toBe(0);
    publisher.close();
  });

  it("resolves with the stream's answer, duplicates named by Nats-Msg-Id, and the message as sent", async () => {
    const publisher = new JetStreamPublisher(nc);
    const first = await publisher.publish("t.a", "hello", "id-1");
    expect(first).toMatchObject({ stream: "T", duplicate: false });
    expect(first.seq).toBeGreaterThan(0);
    expect(await publisher.publish("t.a", "hello again", "id-1")).toEqual({ stream: "T", seq: first.seq, duplicate: true });
    const noId = await publisher.publish("t.a", new TextEncoder().encode("bytes"));
    expect(noId.duplicate).toBe(false);
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage("T", { seq: first.seq });
    expect(stored?.string()).toBe("hello");
    expect(stored?.header.get("Nats-Msg-Id")).toBe("id-1");
    expect((await jsm.streams.getMessage("T", { seq: noId.seq }))?.header?.get("Nats-Msg-Id") ?? "").toBe("");
    publisher.close();
  });

  it("Nats-Msg-Id exactly as nats-core's headers write it: a plain id as is, a padded one trimmed, one with a line break refused", async () => {
    const publisher = new JetStreamPublisher(nc);
    const jsm = await jetstreamManager(nc);
    const plain = await publisher.publish("t.ids", "1", "dev:e 1/ü");
    expect((await jsm.streams.getMessage("T", { seq: plain.seq }))?.header.get("Nats-Msg-Id")).toBe("dev:e 1/ü");
    expect((await publisher.publish("t.ids", "1", "dev:e 1/ü")).duplicate).toBe(true);
    const padded = await publisher.publish("t.ids", "2", "  dev:e2 ");
    expect((await jsm.streams.getMessage("T", { seq: padded.seq }))?.header.get("Nats-Msg-Id")).toBe("dev:e2");
    expect((await publisher.publish("t.ids", "2", "dev:e2")).duplicate).toBe(true);
    await expect(publisher.publish("t.ids", "3", "dev:e3\r\nX-Other: 1")).rejects.toThrow(JetStreamPublishError);
  });

  it("rejects what JetStream did not store: no stream for the subject, a stream error, no answer in time", async () => {
    const publisher = new JetStreamPublisher(nc, { timeoutMs: 300 });
    await expect(publisher.publish("nostream.x", "x")).rejects.toMatchObject({ name: "JetStreamPublishError", code: 503 });
    await publisher.publish("full.a", "1");
    const full = publisher.publish("full.a", "2");
    await expect(full).rejects.toBeInstanceOf(JetStreamPublishError);
    await expect(full).rejects.toThrow(/maximum messages/);
    // a subscriber that never answers: rejected after the time-out; its late answer is ignored
    const replies: string[] = [];
    const silent = nc.subscribe("quiet.>", { callback: (_e, m) => { if (m.reply) replies.push(m.reply); } });
    await expect(publisher.publish("quiet.a", "x")).rejects.toMatchObject({ code: 408 });
    expect(replies).toHaveLength(1);
    nc.publish(replies[0]!, JSON.stringify({ stream: "T", seq: 1 }));
    await nc.flush();
    expect(publisher.inFlight).toBe(0);
    silent.unsubscribe();
    publisher.close();
  });

  // A replicated stream's leader records a message's id when it proposes it, with sequence 0
  // until the store commits, and keeps that record when the proposal is lost: it then answers the
  // id as a duplicate with sequence 0 for the whole duplicate window, nothing stored (nats-server
  // 2.10, processClusteredInboundMsg). A responder gives those answers here.
  it("does not take a duplicate answered with sequence 0 as stored: asks again, the same id, until a sequence comes or the time-out", async () => {
    const asked: Array<string | undefined> = [];
    let committedAfter = 3;
    const leader = nc.subscribe("dd.>", {
      callback: (_e, m) => {
        asked.push(m.headers?.get("Nats-Msg-Id"));
        const committed = m.subject === "dd.committing" && asked.length > committedAfter;
        m.respond(JSON.stringify({ stream: "T", seq: committed ? 42 : 0, duplicate: true }));
      },
    });
    const publisher = new JetStreamPublisher(nc, { timeoutMs: 1500 });
    // a store still being committed: its sequence arrives at the fourth ask
    expect(await publisher.publish("dd.committing", "x", "id-c")).toEqual({ stream: "T", seq: 42, duplicate: true });
    expect(asked).toEqual(["id-c", "id-c", "id-c", "id-c"]);
    // a lost one: never stored, rejected once the time-out has passed
    asked.length = 0;
    committedAfter = Infinity;
    const started = Date.now();
    await expect(publisher.publish("dd.lost", "y", "id-l")).rejects.toBeInstanceOf(UnconfirmedDuplicateError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
    expect(asked.length).toBeGreaterThanOrEqual(3);
    expect(new Set(asked)).toEqual(new Set(["id-l"]));
    expect(publisher.inFlight + publisher.queued).toBe(0);
    leader.unsubscribe();
    publisher.close();
  });

  it("keeps at most maxInFlight unanswered and sends the rest in order as answers arrive", async () => {
    const publisher = new JetStreamPublisher(nc, { maxInFlight: 4 });
    let most = 0;
    const watch = setInterval(() => { most = Math.max(most, publisher.inFlight); }, 0);
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => publisher.publish("t.bounded", String(i), `b${i}`).then((a) => { most = Math.max(most, publisher.inFlight); return a; })));
    clearInterval(watch);
    expect(most).toBeLessThanOrEqual(4);
    const seqs = acks.map((a) => a.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // stored in the order published
    expect(new Set(seqs).size).toBe(200);
    expect(publisher.inFlight + publisher.queued).toBe(0);
    publisher.close();
  });

  it("rejects what is unanswered or queued when the connection closes, and anything published after", async () => {
    const own = await connectNats(s.natsUrl, "js-publish-close");
    const publisher = new JetStreamPublisher(own, { maxInFlight: 1 });
    const silent = own.subscribe("quiet2.>", { callback: () => {} });
    const pending = [publisher.publish("quiet2.a", "x"), publisher.publish("quiet2.b", "y")];
    await new Promise((r) => setTimeout(r, 50));
    silent.unsubscribe();
    await own.close();
    for (const p of pending) await expect(p).rejects.toThrow(/connection closed/);
    await expect(publisher.publish("t.after", "z")).rejects.toThrow(/connection closed/);
  });
});

describe("ActorPublisher: a device message JetStream keeps answering as an unconfirmed duplicate (real nats-server)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "actor-publisher-dup-test");
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  it("is stored again without its id (the actors de-duplicate by the event's own id), and counted", async () => {
    // no stream here: a responder stands in for a leader holding a lost proposal's id
    const got: Array<{ id: string | undefined; body: string }> = [];
    const leader = nc.subscribe("act.>", {
      callback: (_e, m) => {
        const id = m.headers?.get("Nats-Msg-Id") || undefined;
        got.push({ id, body: m.string() });
        m.respond(JSON.stringify(id ? { stream: "FF_ACTORS", seq: 0, duplicate: true } : { stream: "FF_ACTORS", seq: 7 }));
      },
    });
    const again: string[] = [];
    const js = jetstream(nc, { timeout: 800 });
    const actors = new ActorPublisher(js, { partitions: 4, onStoredAgain: (_subject, msgId) => again.push(msgId) });
    expect(await actors.publish("camera", "mall.c1", { seq: 744 }, "c1:f744")).toBe(false);
    expect(again).toEqual(["c1:f744"]);
    const last = got[got.length - 1]!;
    expect(last).toEqual({ id: undefined, body: JSON.stringify({ seq: 744 }) });
    expect(got.slice(0, -1).every((g) => g.id === "c1:f744")).toBe(true);
    // the coalescing path too: a lone message goes with its id
    expect(await actors.publishCoalesced("space", "mall.s1", { k: 1 }, "s1:k1")).toBe(false);
    expect(again).toEqual(["c1:f744", "s1:k1"]);
    leader.unsubscribe();
  });
});
