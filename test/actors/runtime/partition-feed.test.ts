import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { STREAM_ACTORS } from "../../../contracts/nats-layout.ts";
import { differences, handledOf, oldestDifference, PartitionFeed } from "../../../actors/runtime/partition-feed.ts";
import { createLogger } from "../../../infra/log.ts";
import { connectNats } from "../../../infra/nats.ts";
import { provisionNats } from "../../../infra/provision.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";

const log = createLogger("test", process.env.RT_LOG ?? "silent");
const enc = new TextEncoder();
const msg = (seq: number, subject: string, body: string) => ({ seq, subject, data: enc.encode(body) });

describe("what a partition handed out, compared with the stream leader's copy", () => {
  it("finds the messages that differ (subject, body, or none at that sequence) and the oldest of them", () => {
    const handed = [msg(3, "act.0.a.x", "{1}"), msg(5, "act.0.a.x", "{2}"), msg(8, "act.0.b.y", "{3}"), msg(9, "act.0.a.x", "{4}")].map(handledOf);
    expect(differences(handed, [msg(3, "act.0.a.x", "{1}"), msg(5, "act.0.a.x", "{2}"), msg(8, "act.0.b.y", "{3}"), msg(9, "act.0.a.x", "{4}")]))
      .toEqual({ count: 0, oldest: undefined });
    const theirs = [msg(3, "act.0.a.x", "{1}"), msg(5, "act.1.c.z", "{2}"), null, msg(9, "act.0.a.x", "{4!}")];
    expect(differences(handed, theirs)).toEqual({ count: 3, oldest: handed[1] });
  });

  it("finds the oldest difference however far back, also when matching messages lie between it and the newer ones", async () => {
    const handed = Array.from({ length: 100 }, (_, i) => handledOf(msg(i + 1, "act.0.a.x", `{${i}}`)));
    const leader = (differing: Set<number>) => {
      const asked: number[] = [];
      const fetch = async (seqs: number[]) => {
        asked.push(...seqs);
        return seqs.map((seq) => differing.has(seq) ? msg(seq, "act.0.a.x", "{other}") : msg(seq, "act.0.a.x", `{${seq - 1}}`));
      };
      return { asked, fetch };
    };
    // differing at 12 and from 70 on, equal between: the oldest is 12
    const gaps = leader(new Set([12, ...Array.from({ length: 31 }, (_, i) => 70 + i)]));
    expect(await oldestDifference(handed, gaps.fetch, 8)).toBe(11);
    expect(gaps.asked).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const none = leader(new Set());
    expect(await oldestDifference(handed, none.fetch, 8)).toBe(-1);
    expect(none.asked).toHaveLength(100);
    expect(await oldestDifference(handed, leader(new Set([100])).fetch, 32)).toBe(99);
  });
});

describe("partition feed against a real nats-server", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "feed-test");
    await provisionNats(nc, { leaseTtlMs: 2000 });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  it("hands out its partition in order; when what it handed out no longer matches the stream, it goes back and hands out the stream's messages again", async () => {
    const js = jetstream(nc);
    const seqs: number[] = [];
    for (let i = 0; i < 30; i++) {
      seqs.push((await js.publish(`act.${i % 3 === 0 ? 1 : 0}.counter.c${i}`, enc.encode(JSON.stringify({ i })))).seq);
    }
    const ours = seqs.filter((_, i) => i % 3 !== 0);
    let divergences = 0;
    const feed = new PartitionFeed(js, 0, log, { probeMs: 200, onDivergence: () => divergences++ });
    const got: JsMsg[] = [];
    const reader = (async () => {
      for await (const m of feed.messages(0)) {
        got.push(m);
        if (got.length === ours.length + 5) { feed.stop(); }
      }
    })();
    await eventually("the first pass", () => got.length >= ours.length, 10_000, 20);
    expect(got.map((m) => m.seq)).toEqual(ours);
    expect(feed.realignedThrough()).toBe(0);

    // the stream changes under what was handed out (here: an operator deletes a message; between
    // replicas that disagree, the leader's copy differs), and the consumer goes (a restart)
    const gone = ours[10]!;
    await jsm.streams.deleteMessage(STREAM_ACTORS, gone);
    for await (const c of jsm.consumers.list(STREAM_ACTORS)) await jsm.consumers.delete(STREAM_ACTORS, c.name);
    await reader;
    expect(divergences).toBe(1);
    expect(feed.realignedThrough()).toBe(ours[ours.length - 1]);
    // from the oldest difference on, the stream's messages again (the deleted one is no longer there)
    expect(got.slice(ours.length).map((m) => m.seq)).toEqual(ours.slice(11, 16));
    // and it tells they are the ones it handed out before (same subject and body)
    expect(got.slice(ours.length).map((m) => feed.handedOutBefore(m))).toEqual([true, true, true, true, true]);
  }, 30_000);
  it("a message the consumer sent that never arrived (taken here by another client) is handed out all the same, in order", async () => {
    const js = jetstream(nc);
    const partition = 2;
    let gaps = 0;
    const feed = new PartitionFeed(js, partition, log, { probeMs: 200, onGap: () => gaps++ });
    const got: number[] = [];
    const reader = (async () => { for await (const m of feed.messages(0)) got.push(m.seq); })();
    // the feed's consumer asks for 256 at a time; another client's request, queued behind that
    // first one, takes the 257th: for the feed it is a message lost on its way
    let name: string | undefined;
    await eventually("the feed's consumer", async () => {
      for await (const c of jsm.consumers.list(STREAM_ACTORS)) if (c.config.filter_subject === `act.${partition}.>`) name = c.name;
      return name !== undefined;
    }, 10_000, 20);
    const intruder = (async () => {
      const taken: number[] = [];
      for await (const m of await js.consumers.get(STREAM_ACTORS, name!).then((c) => c.fetch({ max_messages: 1, expires: 10_000 }))) taken.push(m.seq);
      return taken;
    })();
    await new Promise((r) => setTimeout(r, 300));
    const sent: number[] = [];
    for (let i = 0; i < 300; i++) sent.push((await js.publish(`act.${partition}.counter.g${i}`, enc.encode(JSON.stringify({ i })))).seq);
    const taken = await intruder;
    await eventually("every message handed out", () => got.length >= sent.length, 15_000, 20);
    feed.stop();
    await reader;
    expect(taken).toHaveLength(1);
    expect(gaps).toBeGreaterThanOrEqual(1);
    expect(got).toEqual(sent);
  }, 30_000);
});
