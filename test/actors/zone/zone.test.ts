import { describe, expect, it } from "vitest";
import type { IPoint } from "influx";
import { Registry } from "prom-client";
import { visitPointNs } from "../../../contracts/track-store.ts";
import type { ZonePersonMsg } from "../../../contracts/track-messages.ts";
import { zoneBehavior } from "../../../actors/zone/behavior.ts";
import type { ZoneState } from "../../../actors/zone/presence.ts";
import { meta, RecordingContext } from "../occupancy/recording-context.ts";
import { prng, shuffle } from "../occupancy/ground-truth.ts";
import { T0 } from "../linker/site-fixture.ts";

const S = 1000;
const ns = (ms: number) => `${ms}000000`;

type Visits = ZonePersonMsg["visits"];
type Crossings = ZonePersonMsg["crossings"];

const zp = (person: string, version: number, visits: Visits, crossings: Crossings = [], ended = false): ZonePersonMsg =>
  ({ type: "zone-person", site: "mall", space: "hall", person, version, visits, crossings, ended });

function setup(params = {}) {
  const registry = new Registry();
  const b = zoneBehavior({ params, registry });
  return { b, registry, state: b.initialState("mall.hall"), ctx: new RecordingContext("zone", "mall.hall") };
}
type Setup = ReturnType<typeof setup>;

function deliver(s: Setup, msgs: readonly unknown[]): ReturnType<RecordingContext["take"]> {
  for (const m of msgs) s.b.handle(s.state, m, s.ctx, meta());
  s.b.flush!(s.state, s.ctx);
  return s.ctx.take();
}

const of = (writes: IPoint[], measurement: string) => writes.filter((w) => w.measurement === measurement);
/** second (ms) -> count, from zone_occupancy points */
const counts = (writes: IPoint[]) => new Map(of(writes, "zone_occupancy").map((w) => [Number(String(w.timestamp).slice(0, -6)), w.fields!.count as number]));

/** The obvious way: for each second, the visits of the newest version of each person covering it. */
function truth(msgs: readonly ZonePersonMsg[]): (t: number) => number {
  const newest = new Map<string, ZonePersonMsg>();
  for (const m of msgs) if ((newest.get(m.person)?.version ?? -1) < m.version) newest.set(m.person, m);
  return (t) => [...newest.values()].reduce((n, m) => n + m.visits.filter(([a, b]) => a <= t && t < b).length, 0);
}

describe("zone actor: camera-based occupancy", () => {
  it("writes one point per second from the visits: count = visits covering the second", () => {
    const s = setup();
    const msgs = [zp("p1", 1, [[T0 + 10 * S, T0 + 15 * S]]), zp("p2", 1, [[T0 + 12 * S, T0 + 20 * S]])];
    const { writes } = deliver(s, msgs);
    const c = counts(writes);
    expect([...c.keys()]).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (10 + i) * S));
    const want = truth(msgs);
    for (const [t, n] of c) expect(n).toBe(want(t));
    expect(c.get(T0 + 12 * S)).toBe(2);
    const p = of(writes, "zone_occupancy")[0]!;
    expect(p.tags).toEqual({ site: "mall", space: "hall" });
    expect(p.timestamp).toBe(ns(T0 + 10 * S));
  });

  it("rewrites only the seconds that changed when a newer version replaces a person's visits", () => {
    const s = setup();
    deliver(s, [zp("p1", 1, [[T0 + 10 * S, T0 + 15 * S]]), zp("p2", 1, [[T0 + 12 * S, T0 + 20 * S]])]);
    // an open visit grows by a second: one point
    let { writes } = deliver(s, [zp("p2", 2, [[T0 + 12 * S, T0 + 21 * S]])]);
    expect([...counts(writes)]).toEqual([[T0 + 20 * S, 1]]);
    // late observations split p1's visit and move its start
    ({ writes } = deliver(s, [zp("p1", 2, [[T0 + 9 * S, T0 + 11 * S], [T0 + 13 * S, T0 + 15 * S]])]));
    expect([...counts(writes)]).toEqual([[T0 + 9 * S, 1], [T0 + 11 * S, 0], [T0 + 12 * S, 1]]);
    // a retraction (empty list) removes the person
    ({ writes } = deliver(s, [zp("p2", 3, [])]));
    expect([...counts(writes)].map(([t]) => t)).toEqual(Array.from({ length: 9 }, (_, i) => T0 + (12 + i) * S));
    expect(counts(writes).get(T0 + 13 * S)).toBe(1);
    expect(counts(writes).get(T0 + 16 * S)).toBe(0);
  });

  it("ignores out-of-order (older or equal) versions", async () => {
    const s = setup();
    deliver(s, [zp("p1", 3, [[T0, T0 + 5 * S]])]);
    const { writes } = deliver(s, [zp("p1", 2, [[T0, T0 + 50 * S]]), zp("p1", 3, [[T0, T0 + 50 * S]])]);
    expect(writes).toEqual([]);
    const m = await s.registry.getSingleMetric("footfall_actor_skipped_total")!.get();
    expect(m.values.find((v) => v.labels.kind === "zone" && v.labels.reason === "stale")?.value).toBe(2);
  });

  it("ends at the same counts whatever the order of delivery, with duplicates (30 seeds)", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = prng(seed);
      const msgs: ZonePersonMsg[] = [];
      for (let p = 1; p <= 6; p++) {
        let enter = T0 + Math.floor(rnd() * 60) * S + Math.floor(rnd() * 3) * 250;
        for (let v = 1; v <= 5; v++) {
          const visits: Visits = [];
          let t = enter;
          for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
            const leave = t + (1 + Math.floor(rnd() * 30)) * S;
            visits.push([t, leave]);
            t = leave + Math.floor(rnd() * 20) * S;
          }
          msgs.push(zp(`p${p}`, v * 2, visits));
          enter += Math.floor(rnd() * 5 - 2) * S;
        }
      }
      const delivered = shuffle([...msgs, ...msgs.filter(() => rnd() < 0.2)], rnd);
      const s = setup();
      const all = new Map<number, number>();
      for (let i = 0; i < delivered.length; i += 3) for (const [t, n] of counts(deliver(s, delivered.slice(i, i + 3)).writes)) all.set(t, n);
      const want = truth(msgs);
      for (let t = T0 - 10 * S; t < T0 + 400 * S; t += S) expect(all.get(t) ?? 0, `seed ${seed} at ${t - T0}`).toBe(want(t));
    }
  });

  it("writes at most 5000 points per write call", () => {
    const s = setup({ keepS: 86_400 });
    for (const m of [zp("p1", 1, [[T0, T0 + 12_000 * S]])]) s.b.handle(s.state, m, s.ctx, meta());
    const calls: number[] = [];
    const ctx = Object.assign(Object.create(s.ctx) as RecordingContext, { write: (pts: IPoint[]) => { calls.push(pts.length); } });
    s.b.flush!(s.state, ctx);
    expect(calls).toEqual([5000, 5000, 2000]);
  });
});

describe("zone actor: lines and visits", () => {
  it("writes per-second in/out per line, and zeros where crossings were retracted", () => {
    const s = setup();
    let { writes } = deliver(s, [
      zp("p1", 1, [], [["door", T0 + 12_500, 1], ["door", T0 + 14_000, -1]]),
      zp("p2", 1, [], [["door", T0 + 12_700, 1], ["exit", T0 + 12_100, -1]]),
    ]);
    const lines = (w: IPoint[]) => of(w, "zone_line").map((p) => [p.tags!.line, p.timestamp, p.fields]);
    expect(lines(writes)).toEqual([
      ["door", ns(T0 + 12 * S), { in: 2, out: 0 }],
      ["door", ns(T0 + 14 * S), { in: 0, out: 1 }],
      ["exit", ns(T0 + 12 * S), { in: 0, out: 1 }],
    ]);
    expect(of(writes, "zone_line")[0]!.tags).toEqual({ site: "mall", space: "hall", line: "door" });
    ({ writes } = deliver(s, [zp("p1", 2, [], [["door", T0 + 12_500, 1]])]));
    expect(lines(writes)).toEqual([["door", ns(T0 + 14 * S), { in: 0, out: 0 }]]);
    ({ writes } = deliver(s, [zp("p2", 2, [], [])]));
    expect(lines(writes)).toEqual([["door", ns(T0 + 12 * S), { in: 1, out: 0 }], ["exit", ns(T0 + 12 * S), { in: 0, out: 0 }]]);
  });

  it("writes a zone_visit point per closed visit (the last one once the person ended); rewrites or retracts changed ones", () => {
    const s = setup();
    const visit = (w: IPoint[]) => of(w, "zone_visit").map((p) => [p.timestamp, p.fields]);
    let { writes } = deliver(s, [zp("p1", 1, [[T0, T0 + 10 * S], [T0 + 30 * S, T0 + 35 * S]])]);
    expect(visit(writes)).toEqual([[visitPointNs(T0, "p1"), { person: "p1", enter: T0, leave: T0 + 10 * S, dwell_s: 10 }]]);
    expect(of(writes, "zone_visit")[0]!.tags).toEqual({ site: "mall", space: "hall" });
    // the open visit grows: nothing to write
    ({ writes } = deliver(s, [zp("p1", 2, [[T0, T0 + 10 * S], [T0 + 30 * S, T0 + 36 * S]])]));
    expect(visit(writes)).toEqual([]);
    // late data: the first visit really left at 12 s; then the person ends
    ({ writes } = deliver(s, [zp("p1", 3, [[T0, T0 + 12 * S], [T0 + 30 * S, T0 + 36 * S]], [], true)]));
    expect(visit(writes)).toEqual([
      [visitPointNs(T0, "p1"), { person: "p1", enter: T0, leave: T0 + 12 * S, dwell_s: 12 }],
      [visitPointNs(T0 + 30 * S, "p1"), { person: "p1", enter: T0 + 30 * S, leave: T0 + 36 * S, dwell_s: 6 }],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
    // later still, the first visit turns out to have started at 2 s: the old point is retracted (dwell 0)
    ({ writes } = deliver(s, [zp("p1", 4, [[T0 + 2 * S, T0 + 12 * S], [T0 + 30 * S, T0 + 36 * S]], [], true)]));
    expect(new Map(visit(writes) as Array<[string, unknown]>)).toEqual(new Map([
      [visitPointNs(T0, "p1"), { person: "p1", enter: T0, leave: T0, dwell_s: 0 }],
      [visitPointNs(T0 + 2 * S, "p1"), { person: "p1", enter: T0 + 2 * S, leave: T0 + 12 * S, dwell_s: 10 }],
    ]));
  });

  it("forgets persons and seconds older than keepS, and refuses changes that old", async () => {
    const s = setup({ keepS: 600, pruneEveryMs: 1 });
    deliver(s, [zp("p1", 1, [[T0, T0 + 10 * S]]), zp("p2", 1, [[T0 + 5 * S, T0 + 20 * S]])]);
    deliver(s, [zp("p3", 1, [[T0 + 1000 * S, T0 + 1001 * S]])]);
    expect([...s.state.persons.keys()]).toEqual(["p3"]);
    expect([...s.state.counts.keys()]).toEqual([T0 + 1000 * S]);
    const { writes } = deliver(s, [zp("p1", 2, [[T0, T0 + 11 * S]])]);
    expect(writes).toEqual([]);
    const m = await s.registry.getSingleMetric("footfall_zone_too_late_total")!.get();
    // p1 was forgotten, so its whole new visit (11 seconds) counts as changed
    expect(m.values[0]!.value).toBe(11);
  });

  it("continues identically after encode/decode, and skips invalid or misrouted messages", () => {
    const msgs = [
      zp("p1", 1, [[T0, T0 + 10 * S]], [["door", T0 + 3 * S, 1]]),
      zp("p2", 1, [[T0 + 5 * S, T0 + 20 * S]]),
      zp("p1", 2, [[T0, T0 + 10 * S], [T0 + 15 * S, T0 + 18 * S]], [["door", T0 + 3 * S, 1], ["door", T0 + 14 * S, -1]]),
      zp("p2", 2, [[T0 + 6 * S, T0 + 20 * S]], [], true),
    ];
    const whole = setup();
    const a = [deliver(whole, msgs.slice(0, 2)), deliver(whole, msgs.slice(2))];
    const half = setup();
    deliver(half, msgs.slice(0, 2));
    const restored: ZoneState = half.b.decode!(JSON.parse(JSON.stringify(half.b.encode!(half.state))), "mall.hall");
    const ctx = new RecordingContext("zone", "mall.hall");
    for (const m of [...msgs.slice(2), { ...msgs[0], space: "shop" }, { type: "zone-person" }, zp("p9", 1, [[T0 + 5 * S, T0]])]) {
      half.b.handle(restored, m, ctx, meta());
    }
    half.b.flush!(restored, ctx);
    expect(ctx.take()).toEqual(a[1]);
    expect(restored.persons.has("p9")).toBe(false);
  });
});
