import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import type { PersonEndMsg, PersonObsMsg, TrackletsMsg } from "../../../contracts/track-messages.ts";
import { linkerBehavior } from "../../../actors/linker/behavior.ts";
import type { LinkerParams } from "../../../actors/linker/params.ts";
import { meta, RecordingContext, type Sent } from "../occupancy/recording-context.ts";
import { blue, feed, line, red, sites, T0, type Sighting } from "./site-fixture.ts";

const S = 1000;

/**
 * Feeds the messages (the wall clock following frame time) and, unless `end` is false, lets the
 * stream end: the clock moves on past the linker's quiet period and a flush releases what its
 * event-time merge still holds.
 */
function run(msgs: readonly TrackletsMsg[], params: Partial<LinkerParams> = {}, end = true) {
  const registry = new Registry();
  const b = linkerBehavior({ sites, params, registry });
  const state = b.initialState("mall");
  const clock = { now: T0 };
  const ctx = new RecordingContext("linker", "mall", () => clock.now);
  msgs.forEach((m, i) => {
    clock.now = m.frameTs;
    b.handle(state, m, ctx, meta(i + 1));
  });
  if (end) {
    clock.now += 60 * S;
    b.flush!(state, ctx);
  }
  return { b, state, ctx, registry, clock };
}

/** tid -> person, from the PersonObsMsgs sent (every observation of a tracklet must go to one person). */
function personOf(sends: readonly Sent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sends) {
    const body = s.body as PersonObsMsg;
    if (body.type !== "person-obs") continue;
    for (const t of body.tracklets) {
      const prev = out.get(t.tid);
      if (prev !== undefined && prev !== body.person) throw new Error(`${t.tid} sent to ${prev} and ${body.person}`);
      out.set(t.tid, body.person);
    }
  }
  return out;
}

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

describe("linker actor", () => {
  it("links the same walker seen by two overlapping cameras into one person, and keeps a second walker apart", async () => {
    const walk1 = line(T0, [2, 3], T0 + 16 * S, [22, 3]);
    const walk2 = line(T0, [2, 6.5], T0 + 16 * S, [22, 6.5]);
    const sightings: Sighting[] = [
      { camera: "cam-a", tid: "cam-a:1", from: T0, to: T0 + 10 * S, pos: walk1, votes: blue },
      { camera: "cam-b", tid: "cam-b:1", from: T0 + 4 * S, to: T0 + 16 * S, pos: walk1, votes: blue },
      { camera: "cam-a", tid: "cam-a:2", from: T0, to: T0 + 10 * S, pos: walk2, votes: blue },
      { camera: "cam-b", tid: "cam-b:2", from: T0 + 4 * S, to: T0 + 16 * S, pos: walk2, votes: blue },
    ];
    const { ctx, registry } = run(feed(sightings, { jitter: 0.15 }));
    const persons = personOf(ctx.sends);
    expect(persons.get("cam-b:1")).toBe(persons.get("cam-a:1"));
    expect(persons.get("cam-b:2")).toBe(persons.get("cam-a:2"));
    expect(persons.get("cam-a:1")).not.toBe(persons.get("cam-a:2"));
    expect(new Set(persons.values()).size).toBe(2);
    expect(await counter(registry, "footfall_linker_tracklets_total", { outcome: "overlap" })).toBe(2);
    expect(await counter(registry, "footfall_linker_tracklets_total", { outcome: "new_person" })).toBe(2);
    // every observation forwarded exactly once, in batches of at least batchMs unless a tracklet ended
    const forwarded = ctx.sends.flatMap((s) => (s.body as PersonObsMsg).tracklets?.flatMap((t) => t.obs.map((o) => `${t.tid}@${o[0]}`)) ?? []);
    expect(new Set(forwarded).size).toBe(forwarded.length);
    const expected = sightings.reduce((n, s) => n + Math.floor((s.to - s.from) / 200) + 1, 0);
    expect(forwarded.length).toBe(expected);
    const ids = ctx.sends.map((s) => s.msgId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ctx.sends[0]).toMatchObject({ kind: "person", id: "mall.p1", msgId: "pobs:mall:p1:0" });
  });

  it("links by overlap with a view the walker has just left (the other camera's tracklet already ended)", async () => {
    // cam-a loses the walker at 5 s and ends its tracklet at once; cam-b picks them up at 4.6 s,
    // but its tracklet is only decided after minObs observations, when cam-a's is over
    const walk = line(T0, [2, 3], T0 + 12 * S, [16, 3]);
    const other = line(T0, [2, 7], T0 + 12 * S, [16, 7]);
    const { ctx, registry } = run(feed([
      { camera: "cam-a", tid: "cam-a:1", from: T0, to: T0 + 5 * S, pos: walk, votes: blue },
      { camera: "cam-a", tid: "cam-a:2", from: T0, to: T0 + 12 * S, pos: other, votes: blue },
      { camera: "cam-b", tid: "cam-b:1", from: T0 + 4600, to: T0 + 12 * S, pos: walk, votes: blue },
    ], { jitter: 0.1, endAfterMs: 0 }), { minObs: 6 });
    const persons = personOf(ctx.sends);
    expect(persons.get("cam-b:1")).toBe(persons.get("cam-a:1"));
    expect(persons.get("cam-a:2")).not.toBe(persons.get("cam-a:1"));
    expect(await counter(registry, "footfall_linker_tracklets_total", { outcome: "overlap" })).toBe(1);
  });

  it("hands a walker over from a camera to its neighbour within the walking-time window", async () => {
    // cam-b sees x 0..6 (t 0..5 s), the walker is unseen for 5 s, cam-c sees x 12..18 (t 10..15 s): 1.2 m/s throughout
    const walk = line(T0, [0, 12], T0 + 15 * S, [18, 12]);
    const { ctx, registry } = run(feed([
      { camera: "cam-b", tid: "cam-b:1", from: T0, to: T0 + 5 * S, pos: walk, votes: blue },
      { camera: "cam-c", tid: "cam-c:1", from: T0 + 10 * S, to: T0 + 15 * S, pos: walk, votes: blue },
    ], { jitter: 0.1 }));
    const persons = personOf(ctx.sends);
    expect(persons.get("cam-c:1")).toBe("p1");
    expect(persons.get("cam-b:1")).toBe("p1");
    expect(await counter(registry, "footfall_linker_tracklets_total", { outcome: "handover" })).toBe(1);
  });

  it("re-links a walker the same camera lost for a moment (a fragmented tracklet)", () => {
    const walk = line(T0, [0, 3], T0 + 12 * S, [15, 3]);
    const { ctx } = run(feed([
      { camera: "cam-a", tid: "cam-a:1", from: T0, to: T0 + 5 * S, pos: walk, votes: blue },
      { camera: "cam-a", tid: "cam-a:2", from: T0 + 6 * S, to: T0 + 12 * S, pos: walk, votes: blue },
    ]));
    expect(personOf(ctx.sends)).toEqual(new Map([["cam-a:1", "p1"], ["cam-a:2", "p1"]]));
  });

  it("does not link confidently different clothes (blue vs red upper), even where space and time fit", () => {
    const walk = line(T0, [0, 12], T0 + 15 * S, [18, 12]);
    const { ctx } = run(feed([
      { camera: "cam-b", tid: "cam-b:1", from: T0, to: T0 + 5 * S, pos: walk, votes: blue },
      { camera: "cam-c", tid: "cam-c:1", from: T0 + 10 * S, to: T0 + 15 * S, pos: walk, votes: red },
    ]));
    const persons = personOf(ctx.sends);
    expect(persons.get("cam-b:1")).toBe("p1");
    expect(persons.get("cam-c:1")).toBe("p2");
  });

  it("starts a new person when the neighbour sees someone outside the walking-time window (unlisted hand-overs off)", () => {
    // gap of 20 s: beyond max_s (10) + slack (2); the walk is slow enough for the speed gate
    const msgs = feed([
      { camera: "cam-b", tid: "cam-b:1", from: T0, to: T0 + 5 * S, pos: line(T0, [0, 12], T0 + 5 * S, [5, 12]), votes: blue },
      { camera: "cam-c", tid: "cam-c:1", from: T0 + 25 * S, to: T0 + 30 * S, pos: line(T0 + 25 * S, [12, 12], T0 + 30 * S, [17, 12]), votes: blue },
    ]);
    const persons = personOf(run(msgs, { unlistedGapS: 0 }).ctx.sends);
    expect(persons.get("cam-b:1")).toBe("p1");
    expect(persons.get("cam-c:1")).toBe("p2");
    // with unlisted hand-overs (the default, up to 30 s at an extra cost) the same walker links
    expect(personOf(run(msgs).ctx.sends).get("cam-c:1")).toBe("p1");
    // ... but not beyond unlistedGapS
    expect(personOf(run(msgs, { unlistedGapS: 15 }).ctx.sends).get("cam-c:1")).toBe("p2");
  });

  it("links an unlisted hand-over only when nothing listed fits as well", () => {
    // cam-a (not a neighbour of cam-c) saw p1 leave at (10, 9.5) 6 s before cam-c's new tracklet; cam-b (a neighbour)
    // saw p2 leave at (14, 9.5) at the same time: both walks fit, the listed one costs less
    const msgs = feed([
      { camera: "cam-a", tid: "cam-a:1", from: T0, to: T0 + 5 * S, pos: line(T0, [10, 3], T0 + 5 * S, [10, 9.5]), votes: blue },
      { camera: "cam-b", tid: "cam-b:1", from: T0, to: T0 + 5 * S, pos: line(T0, [14, 3], T0 + 5 * S, [14, 9.5]), votes: blue },
      { camera: "cam-c", tid: "cam-c:1", from: T0 + 11 * S, to: T0 + 15 * S, pos: line(T0 + 11 * S, [12, 14], T0 + 15 * S, [12, 18]), votes: blue },
    ]);
    const persons = personOf(run(msgs).ctx.sends);
    expect(persons.get("cam-a:1")).not.toBe(persons.get("cam-b:1"));
    expect(persons.get("cam-c:1")).toBe(persons.get("cam-b:1"));
  });

  it("does not hand over when the walk would need an impossible speed", () => {
    // 5 s gap but 30 m apart: 6 m/s
    const { ctx } = run(feed([
      { camera: "cam-b", tid: "cam-b:1", from: T0, to: T0 + 5 * S, pos: line(T0, [0, 12], T0 + 5 * S, [5, 12]), votes: blue },
      { camera: "cam-c", tid: "cam-c:1", from: T0 + 10 * S, to: T0 + 15 * S, pos: line(T0 + 10 * S, [35, 12], T0 + 15 * S, [38, 12]), votes: blue },
    ]));
    expect(personOf(ctx.sends).get("cam-c:1")).toBe("p2");
  });

  it("drops a tracklet that ends with fewer than minObs observations as noise", async () => {
    const msgs = feed([{ camera: "cam-a", tid: "cam-a:9", from: T0, to: T0 + 200, pos: () => [5, 5], votes: blue }], { confirmAfter: 1 });
    expect(msgs.flatMap((m) => m.updates).filter((u) => u.obs.length > 0).length).toBe(2);
    const { ctx, state, registry } = run(msgs);
    expect(ctx.sends).toEqual([]);
    expect(state.persons.size).toBe(0);
    expect(state.tracklets.size).toBe(0);
    expect(await counter(registry, "footfall_linker_tracklets_total", { outcome: "noise" })).toBe(1);
  });

  it("ends persons after the silence period: flushes their last batch, then PersonEndMsg, and forgets them", async () => {
    const walk = line(T0, [0, 3], T0 + 5 * S, [6, 3]);
    const msgs = feed([{ camera: "cam-a", tid: "cam-a:1", from: T0, to: T0 + 5 * S, pos: walk, votes: blue }]);
    // another camera keeps the linker's clock going with someone else, up to T0 + 50 s
    const other = feed([{ camera: "cam-c", tid: "cam-c:1", from: T0 + 20 * S, to: T0 + 48 * S, pos: () => [30, 15], votes: red }]);
    const all = [...msgs, ...other].sort((a, b) => a.frameTs - b.frameTs);
    expect(all.at(-1)!.frameTs).toBeLessThan(T0 + 65 * S);
    // cam-b, a camera of the site, never reports: it is waited for only linkerWaitMs after the start
    const { ctx, state, registry, b, clock } = run(all, { personSilenceS: 60, linkerWaitMs: 10_000 }, false);
    const isEnd = (s: Sent) => (s.body as PersonEndMsg).type === "person-end";
    expect(ctx.sends.filter(isEnd)).toEqual([]);
    expect(state.persons.has("p1")).toBe(true);
    // the clock passes T0 + 65 s (p1's last observation + 60 s)
    const later = feed([{ camera: "cam-c", tid: "cam-c:2", from: T0 + 64 * S, to: T0 + 66 * S, pos: () => [30, 15], votes: red }]);
    for (const m of later) {
      clock.now = m.frameTs;
      b.handle(state, m, ctx, meta());
    }
    const p1 = ctx.sends.filter((s) => s.id === "mall.p1");
    expect(p1.filter(isEnd)).toHaveLength(1);
    expect(p1.at(-1)).toMatchObject({ msgId: "pend:mall:p1", body: { type: "person-end", site: "mall", person: "p1" } });
    const at = (p1.at(-1)!.body as PersonEndMsg).at;
    expect(at).toBeGreaterThan(T0 + 65 * S);
    expect(at).toBeLessThanOrEqual(T0 + 66.2 * S);
    // every observation of p1 went out before the end
    expect(p1.flatMap((s) => (s.body as PersonObsMsg).tracklets?.flatMap((t) => t.obs) ?? []).length).toBe(26);
    expect(state.persons.has("p1")).toBe(false);
    expect(state.persons.has("p2")).toBe(true);
    expect(await counter(registry, "footfall_linker_persons_ended_total")).toBe(1);
  });

  it("replays the same TrackletsMsgs from an encoded and decoded mid-state with identical sends", () => {
    const w1 = line(T0, [0, 3], T0 + 15 * S, [18, 3]);
    const w2 = line(T0 + 2 * S, [18, 6], T0 + 17 * S, [0, 6]);
    const w3 = line(T0, [0, 12], T0 + 15 * S, [18, 12]);
    const msgs = feed([
      { camera: "cam-a", tid: "cam-a:1", from: T0, to: T0 + 9 * S, pos: w1, votes: blue },
      { camera: "cam-b", tid: "cam-b:1", from: T0 + 4 * S, to: T0 + 15 * S, pos: w1, votes: blue },
      { camera: "cam-a", tid: "cam-a:2", from: T0 + 2 * S, to: T0 + 17 * S, pos: w2, votes: red },
      { camera: "cam-b", tid: "cam-b:2", from: T0 + 2 * S, to: T0 + 8 * S, pos: w3, votes: blue },
      { camera: "cam-c", tid: "cam-c:1", from: T0 + 12 * S, to: T0 + 16 * S, pos: w3, votes: blue, emb: [0.1, 0.9, 0.2] },
    ], { jitter: 0.1, seed: 7 });
    const whole = run(msgs);
    const half = Math.floor(msgs.length / 2);
    const first = run(msgs.slice(0, half), {}, false);
    const b = linkerBehavior({ sites, registry: new Registry() });
    const restored = b.decode!(JSON.parse(JSON.stringify(b.encode!(first.state))), "mall");
    let now = 0;
    const ctx = new RecordingContext("linker", "mall", () => now);
    msgs.slice(half).forEach((m) => {
      now = m.frameTs;
      b.handle(restored, m, ctx, meta());
    });
    now += 60 * S;
    b.flush!(restored, ctx);
    expect([...first.ctx.sends, ...ctx.sends]).toEqual(whole.ctx.sends);
    expect(ctx.sends.length).toBeGreaterThan(3);
    expect(JSON.stringify(b.encode!(restored))).toBe(JSON.stringify(b.encode!(whole.state)));
  });

  it("reads a version-1 snapshot (each camera's newest observation only) into per-camera tails", () => {
    const b = linkerBehavior({ sites, registry: new Registry() });
    const v1 = {
      v: 1, tracklets: [], closed: [], counter: 1, streamTs: T0 + 5 * S, nextSweep: T0 + 6 * S,
      persons: [{
        id: "p1", active: [], recent: [[T0 + 5 * S, 3, 3]], lastByCamera: [["cam-a", [T0 + 5 * S, 3, 3]], ["cam-b", [T0 + 4 * S, 2, 3]]],
        lastTs: T0 + 5 * S, votes: {}, batch: [], batchFrom: 0, batchTo: 0, batchN: 2,
      }],
    };
    const state = b.decode!(v1, "mall");
    expect([...state.persons.get("p1")!.tails]).toEqual([["cam-a", [[T0 + 5 * S, 3, 3]]], ["cam-b", [[T0 + 4 * S, 2, 3]]]]);
    expect((b.encode!(state) as { v: number }).v).toBe(2);
    expect(() => b.decode!({ ...v1, v: 3 }, "mall")).toThrow();
  });

  it("skips invalid and misrouted messages without throwing", async () => {
    const registry = new Registry();
    const b = linkerBehavior({ sites, registry });
    const state = b.initialState("mall");
    const ctx = new RecordingContext("linker", "mall");
    b.handle(state, { type: "tracklets", site: "mall" }, ctx, meta());
    b.handle(state, null, ctx, meta());
    b.handle(state, { type: "tracklets", site: "other", camera: "cam-a", seq: 0, frameTs: T0, updates: [] }, ctx, meta());
    expect(ctx.sends).toEqual([]);
    expect(await counter(registry, "footfall_actor_skipped_total", { kind: "linker", reason: "invalid" })).toBe(2);
    expect(await counter(registry, "footfall_actor_skipped_total", { kind: "linker", reason: "misrouted" })).toBe(1);
  });
});
