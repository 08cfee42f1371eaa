import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import type { PersonUpdate } from "../../../contracts/events.ts";
import { personEventSubject } from "../../../contracts/nats-layout.ts";
import { personPointNs } from "../../../contracts/track-store.ts";
import type { AttrVotes, FloorObs, PersonObsMsg, ZonePersonMsg } from "../../../contracts/track-messages.ts";
import { personBehavior } from "../../../actors/person-track/behavior.ts";
import type { PersonParams } from "../../../actors/person-track/params.ts";
import type { PersonTrackState } from "../../../actors/person-track/state.ts";
import { meta, RecordingContext } from "../occupancy/recording-context.ts";
import { prng, shuffle } from "../occupancy/ground-truth.ts";
import { blue, sites, T0 } from "../linker/site-fixture.ts";

const S = 1000;

/** Gaussian noise (Box-Muller) from a seeded generator. */
function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** Observations every `stepMs` from t0 to t1 of pos(t), with Gaussian jitter of sd `sd` per axis. */
function observe(t0: number, t1: number, pos: (t: number) => [number, number], sd = 0, seed = 1, stepMs = 200): FloorObs[] {
  const rnd = prng(seed);
  const out: FloorObs[] = [];
  for (let t = t0; t <= t1; t += stepMs) {
    const [x, y] = pos(t);
    out.push([t, x + sd * gauss(rnd), y + sd * gauss(rnd)]);
  }
  return out;
}

/** The linker's way: one message per second of observations of each tracklet. */
function batches(tid: string, camera: string, obs: readonly FloorObs[], votes?: AttrVotes): PersonObsMsg[] {
  const out: PersonObsMsg[] = [];
  for (let i = 0; i < obs.length; i += 5) {
    const chunk = obs.slice(i, i + 5);
    out.push({ type: "person-obs", site: "mall", person: "p1", tracklets: [{ tid, camera, obs: chunk, ...(votes ? { votes: scale(votes, chunk.length) } : {}) }] });
  }
  return out;
}

const scale = (v: AttrVotes, k: number): AttrVotes =>
  Object.fromEntries(Object.entries(v).map(([a, vs]) => [a, Object.fromEntries(Object.entries(vs).map(([x, c]) => [x, c * k]))]));

/** pointEveryMs 0: a person point at every flush, so the tests can read the latest state from it. */
function setup(params: Partial<PersonParams> = { pointEveryMs: 0 }) {
  const registry = new Registry();
  const b = personBehavior({ sites, registry, params });
  return { b, registry, state: b.initialState("mall.p1"), ctx: new RecordingContext("person", "mall.p1") };
}

type Setup = ReturnType<typeof setup>;

function feedAll({ b, state, ctx }: Setup, msgs: readonly unknown[], flushEach = false) {
  for (const m of msgs) {
    b.handle(state, m, ctx, meta());
    if (flushEach) b.flush!(state, ctx);
  }
  b.flush!(state, ctx);
}

const lastUpdate = (ctx: RecordingContext) => ctx.emits.filter((e) => e.subject === personEventSubject("mall")).at(-1)!.body as PersonUpdate;
const lastPoint = (ctx: RecordingContext) => ctx.writes.filter((w) => w.measurement === "person").at(-1)!;
/** The newest ZonePersonMsg per space. */
function zones(ctx: RecordingContext): Map<string, ZonePersonMsg> {
  const out = new Map<string, ZonePersonMsg>();
  for (const s of ctx.sends) {
    const z = s.body as ZonePersonMsg;
    if (z.type === "zone-person" && (out.get(z.space)?.version ?? -1) < z.version) out.set(z.space, z);
  }
  return out;
}

describe("person-track actor: path and distance", () => {
  it("measures a straight 20 m walk with 0.15 m jitter within 3 % (10 seeds, walks starting anywhere in a second)", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const s = setup();
      const start = T0 + seed * 97;
      const obs = observe(start, start + 16 * S, (t) => [5 + (20 * (t - start)) / (16 * S), 5], 0.15, seed);
      feedAll(s, batches("cam-a:1", "cam-a", obs, blue), true);
      const d = lastUpdate(s.ctx).distance_m;
      expect(Math.abs(d - 20) / 20, `seed ${seed}: ${d} m`).toBeLessThan(0.03);
      expect(lastPoint(s.ctx).fields!.distance_m).toBe(d);
    }
  });

  it("adds less than 1 m for a person standing still for 5 minutes with 0.15 m jitter (10 seeds)", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const s = setup();
      const obs = observe(T0, T0 + 300 * S, () => [8, 4], 0.15, seed);
      feedAll(s, batches("cam-a:1", "cam-a", obs), true);
      expect(lastUpdate(s.ctx).distance_m, `seed ${seed}`).toBeLessThan(1);
    }
  });

  it("averages two overlapping cameras' views of the same walker (opposite biases cancel)", () => {
    const s = setup();
    const pos = (t: number): [number, number] => [2 + (12 * (t - T0)) / (10 * S), 5];
    const a = observe(T0, T0 + 10 * S, pos).map(([t, x, y]): FloorObs => [t, x, y + 0.4]);
    const b = observe(T0 + 100, T0 + 10 * S + 100, pos, 0, 1, 200).map(([t, x, y]): FloorObs => [t, x, y - 0.4]);
    const msgs: PersonObsMsg[] = [];
    for (let i = 0; i < a.length; i += 5) {
      msgs.push({ type: "person-obs", site: "mall", person: "p1", tracklets: [
        { tid: "cam-a:1", camera: "cam-a", obs: a.slice(i, i + 5) },
        { tid: "cam-b:1", camera: "cam-b", obs: b.slice(i, i + 5) },
      ] });
    }
    feedAll(s, msgs, true);
    const path = JSON.parse(lastPoint(s.ctx).fields!.path as string) as Array<[number, number, number]>;
    for (const [, , y] of path) expect(Math.abs(y - 5)).toBeLessThan(0.01);
    const d = lastUpdate(s.ctx).distance_m;
    expect(Math.abs(d - 12)).toBeLessThan(1); // not the zig-zag of alternating views
    expect(lastPoint(s.ctx).fields!.cameras).toBe("|cam-a|cam-b|");
    expect(JSON.parse(lastPoint(s.ctx).fields!.tracklets as string)).toEqual([
      ["cam-a:1", "cam-a", T0, T0 + 10 * S], ["cam-b:1", "cam-b", T0 + 100, T0 + 10 * S + 100],
    ]);
  });
});

describe("person-track actor: idempotence and late data", () => {
  const walkIntoShop = (t: number): [number, number] => (t < T0 + 10 * S ? [5, 2 + (7 * (t - T0)) / (10 * S)] : [5, 9 + (6 * (t - T0 - 10 * S)) / (10 * S)]);

  it("changes nothing when a batch is replayed", () => {
    const s = setup();
    const msgs = batches("cam-a:1", "cam-a", observe(T0, T0 + 10 * S, walkIntoShop, 0.05), blue);
    feedAll(s, msgs, true);
    const before = JSON.stringify(s.b.encode!(s.state));
    s.ctx.take();
    for (const m of [msgs[3], msgs[0], msgs.at(-1)]) s.b.handle(s.state, m, s.ctx, meta());
    s.b.flush!(s.state, s.ctx);
    expect(s.ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
    expect(JSON.stringify(s.b.encode!(s.state))).toBe(before);
  });

  it("corrects visits when a batch arrives late (the result equals in-order delivery)", () => {
    const obs = observe(T0, T0 + 20 * S, walkIntoShop, 0.05, 9);
    const camB = obs.slice(40, 70); // cam-b's view of the middle of the walk, t 8..13.8 s
    const inOrder = setup();
    feedAll(inOrder, [
      ...batches("cam-a:1", "cam-a", obs.slice(0, 40)),
      ...batches("cam-b:1", "cam-b", camB),
      ...batches("cam-a:2", "cam-a", obs.slice(70)),
    ], true);
    const late = setup();
    feedAll(late, [...batches("cam-a:1", "cam-a", obs.slice(0, 40)), ...batches("cam-a:2", "cam-a", obs.slice(70))], true);
    const before = zones(late.ctx);
    // without the middle, the hall visit lasts until the straight line from the last hall bin (7 s) to the
    // next observation (in the shop at 14 s) leaves the hall: y = 10 at about 12 s
    expect(before.get("hall")!.visits).toEqual([[T0, T0 + 12 * S]]);
    expect(before.get("shop")!.visits).toEqual([[T0 + 12 * S, T0 + 21 * S]]);
    feedAll(late, batches("cam-b:1", "cam-b", camB), true);
    const after = zones(late.ctx), truth = zones(inOrder.ctx);
    expect(after.get("hall")!.visits).toEqual(truth.get("hall")!.visits);
    expect(after.get("shop")!.visits).toEqual(truth.get("shop")!.visits);
    // y passes 10 at 11.67 s: bin 11 (mean y 9.84) is still in the hall
    expect(after.get("hall")!.visits).toEqual([[T0, T0 + 12 * S]]);
    expect(after.get("shop")!.visits).toEqual([[T0 + 12 * S, T0 + 21 * S]]);
    expect(lastPoint(late.ctx).fields).toEqual(lastPoint(inOrder.ctx).fields);
    expect(lastPoint(late.ctx).timestamp).toBe(lastPoint(inOrder.ctx).timestamp);
  });

  it("retracts a zone's visits when late observations move them to another space (empty lists)", () => {
    const s = setup();
    // cam-a places the person just inside the shop by mistake; cam-b's many observations later put the bins in the hall
    const wrong: FloorObs[] = [[T0, 5, 10.2], [T0 + 200, 5, 10.2]];
    feedAll(s, [{ type: "person-obs", site: "mall", person: "p1", tracklets: [{ tid: "cam-a:1", camera: "cam-a", obs: wrong }] }]);
    expect(zones(s.ctx).get("shop")!.visits).toEqual([[T0, T0 + S]]);
    const right: FloorObs[] = [0, 100, 300, 400, 500, 600].map((dt) => [T0 + dt, 5, 9]);
    feedAll(s, [{ type: "person-obs", site: "mall", person: "p1", tracklets: [{ tid: "cam-b:1", camera: "cam-b", obs: right }] }]);
    const z = zones(s.ctx);
    expect(z.get("shop")).toMatchObject({ visits: [], crossings: [], version: 2 });
    expect(z.get("hall")).toMatchObject({ visits: [[T0, T0 + S]], version: 2 });
  });
});

describe("person-track actor: lines, attributes, end, output", () => {
  it("reports a crossing of a counting line in, then out, at the interpolated instant, to the line's zone", () => {
    const s = setup();
    // x 10 -> 30 in 16 s (crossing x = 20 at 8 s), then back 30 -> 10 (crossing at 24 s)
    const pos = (t: number): [number, number] => {
      const f = (t - T0) / (16 * S);
      return f <= 1 ? [10 + 20 * f, 5] : [30 - 20 * (f - 1), 5];
    };
    feedAll(s, batches("cam-a:1", "cam-a", observe(T0, T0 + 32 * S, pos, 0.05, 4)), true);
    s.b.handle(s.state, { type: "person-end", site: "mall", person: "p1", at: T0 + 100 * S }, s.ctx, meta());
    s.b.flush!(s.state, s.ctx);
    const hall = zones(s.ctx).get("hall")!;
    expect(hall.crossings.map(([line, , dir]) => [line, dir])).toEqual([["door", 1], ["door", -1]]);
    expect(Math.abs(hall.crossings[0]![1] - (T0 + 8 * S))).toBeLessThan(300);
    expect(Math.abs(hall.crossings[1]![1] - (T0 + 24 * S))).toBeLessThan(300);
    expect(hall.ended).toBe(true);
    expect(zones(s.ctx).has("shop")).toBe(false);
  });

  it("takes per attribute the value with the most summed confidence, conf = its share", () => {
    const s = setup();
    const obs = observe(T0, T0 + 3 * S, () => [5, 5]);
    feedAll(s, [{ type: "person-obs", site: "mall", person: "p1", tracklets: [
      { tid: "cam-a:1", camera: "cam-a", obs: obs.slice(0, 8), votes: { upper: { blue: 2.4, purple: 0.6 }, lower: { grey: 0.5 } } },
      { tid: "cam-b:1", camera: "cam-b", obs: obs.slice(8), votes: { upper: { purple: 1.0 }, lower: { black: 1.5, grey: 0.5 } } },
    ] }]);
    const u = lastUpdate(s.ctx);
    expect(u.attrs).toEqual({ upper: { value: "blue", conf: 0.6 }, lower: { value: "black", conf: 0.6 } });
    const f = lastPoint(s.ctx).fields!;
    expect([f.upper, f.upper_conf, f.lower, f.lower_conf]).toEqual(["blue", 0.6, "black", 0.6]);
  });

  it("applies a PersonAttrsMsg once per job", async () => {
    const s = setup();
    // 11 observations voting white 0.1 each
    feedAll(s, batches("cam-a:1", "cam-a", observe(T0, T0 + 2 * S, () => [5, 5]), { shoes: { white: 0.1 } }));
    const job = { type: "person-attrs", site: "mall", person: "p1", job: "job-1", votes: { shoes: { red: 3 } } };
    const v = s.state.version;
    feedAll(s, [job, job, { ...job }]);
    expect(s.state.version).toBe(v + 1);
    expect(lastUpdate(s.ctx).attrs.shoes).toEqual({ value: "red", conf: Math.round((3 / 4.1) * 1000) / 1000 });
    feedAll(s, [{ ...job, job: "job-2", votes: { shoes: { white: 10 } } }]);
    expect(lastUpdate(s.ctx).attrs.shoes!.value).toBe("white");
    expect(await s.registry.getSingleMetric("footfall_actor_skipped_total")!.get().then((m) => m.values.find((x) => x.labels.kind === "person" && x.labels.reason === "job_applied")?.value)).toBe(2);
  });

  it("writes one person point at its founding time (ns) with every field, and emits versioned updates", () => {
    const s = setup();
    const obs = observe(T0 + 250, T0 + 4 * S, (t) => [5, 2 + (t - T0) / S]);
    // a later batch first: the founding instant is the first observation this actor saw, and stays
    const msgs = batches("cam-a:1", "cam-a", obs, blue);
    feedAll(s, [msgs[1], msgs[0], ...msgs.slice(2)], true);
    const p = lastPoint(s.ctx);
    expect(p.timestamp).toBe(personPointNs(msgs[1]!.tracklets[0]!.obs[0]![0], "p1"));
    expect(p.tags).toEqual({ site: "mall" });
    expect(p.fields).toMatchObject({ person: "p1", start: T0 + 1250, end: T0 + 3850, obs: 14, ended: false, cameras: "|cam-a|", spaces: "|hall|" });
    // msgs[0] came second and held older observations than msgs[1]: per tracklet only newer ones are applied
    expect(JSON.parse(p.fields!.visits as string)).toEqual([["hall", T0 + S, T0 + 4 * S]]);
    expect(s.state.obs).toBe(14);
    const ids = s.ctx.emits.map((e) => e.msgId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.at(-1)).toBe(`pu:mall:p1:${s.state.version}`);
    s.b.handle(s.state, { type: "person-end", site: "mall", person: "p1", at: T0 + 70 * S }, s.ctx, meta());
    s.b.flush!(s.state, s.ctx);
    expect(lastUpdate(s.ctx).ended).toBe(true);
    expect(lastPoint(s.ctx).fields!.ended).toBe(true);
    expect(lastPoint(s.ctx).timestamp).toBe(p.timestamp);
  });

  it("rewrites the person point at most every pointEveryMs of event time, and always at the end", () => {
    const s = setup({ pointEveryMs: 5000 });
    const obs = observe(T0, T0 + 20 * S, (t) => [2 + (t - T0) / 1000, 5]);
    feedAll(s, batches("cam-a:1", "cam-a", obs), true);
    const points = () => s.ctx.writes.filter((w) => w.measurement === "person");
    // batches end at 0.8, 1.8, ... 19.8 s and 20 s: written at the first, then once the newest moved on 5 s
    expect(points().map((w) => w.fields!.end)).toEqual([T0 + 800, T0 + 5800, T0 + 10_800, T0 + 15_800]);
    expect(s.ctx.emits).toHaveLength(21);
    s.b.handle(s.state, { type: "person-end", site: "mall", person: "p1", at: T0 + 80 * S }, s.ctx, meta());
    s.b.flush!(s.state, s.ctx);
    expect(points().at(-1)!.fields).toMatchObject({ end: T0 + 20 * S, ended: true });
    expect(new Set(points().map((w) => w.timestamp)).size).toBe(1);
  });

  it("survives encode/decode with identical further output, and skips bad input", () => {
    const obs = observe(T0, T0 + 30 * S, (t) => [2 + (t - T0) / 2000, 5 + (t - T0) / 5000], 0.1, 2);
    const msgs = shuffle(batches("cam-a:1", "cam-a", obs, blue), prng(4));
    const whole = setup();
    feedAll(whole, msgs);
    const half = setup();
    feedAll(half, msgs.slice(0, 10));
    const restored: PersonTrackState = half.b.decode!(JSON.parse(JSON.stringify(half.b.encode!(half.state))), "mall.p1");
    const ctx = new RecordingContext("person", "mall.p1");
    for (const m of msgs.slice(10)) half.b.handle(restored, m, ctx, meta());
    for (const bad of [{}, { type: "person-obs", site: "mall", person: "p2", tracklets: [] }, "x"]) half.b.handle(restored, bad, ctx, meta());
    half.b.flush!(restored, ctx);
    expect(lastPoint(ctx)).toEqual(lastPoint(whole.ctx));
    expect(lastUpdate(ctx)).toEqual(lastUpdate(whole.ctx));
  });
});
