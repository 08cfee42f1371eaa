import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import type { CrossingMsg, MoveMsg, SpaceCountsMsg } from "../../../contracts/occupancy-messages.ts";
import { capacityAlertSubject, occupancyEventSubject, siteOccupancyEventSubject } from "../../../contracts/nats-layout.ts";
import { doorwayBehavior } from "../../../actors/doorway/behavior.ts";
import { StaticTopologyLookup, type TopologyLookup } from "../../../topology/topology-lookup.ts";
import { buildKinds } from "../../../actors/kinds.ts";
import { StaticSiteLookup } from "../../../topology/site-geometry.ts";
import { POINTS_PER_CHUNK } from "../../../contracts/occupancy-store.ts";
import { siteBehavior } from "../../../actors/site/behavior.ts";
import { spaceBehavior } from "../../../actors/space/behavior.ts";
import { OccupancyHarness, siteTruth } from "./occupancy-harness.ts";
import { meta, RecordingContext } from "./recording-context.ts";
import { prng, shuffle } from "./ground-truth.ts";

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
/** a one-hour late horizon; no limit on crossings stamped ahead of the clock unless a test sets one */
const params = { lateHorizonHours: 1 };
const doorwayParams = { ...params, maxFutureMs: 0 };

// outside -> lobby -> hall -> shop, plus a side door from outside into the shop
const topology = new StaticTopologyLookup([{
  site: "mall",
  doorways: [
    { id: "main", entering_to: "lobby", exiting_to: "outside" },
    { id: "inner", entering_to: "hall", exiting_to: "lobby" },
    { id: "shopdoor", entering_to: "shop", exiting_to: "hall" },
    { id: "side", entering_to: "shop", exiting_to: "outside" },
  ],
}]);
const SPACES = ["lobby", "hall", "shop"];

const crossing = (doorway: string, eventId: string, ts: number, delta: 1 | -1, device = `dpu-${doorway}`): CrossingMsg =>
  ({ type: "crossing", site: "mall", doorway, device, eventId, ts, delta, receivedAt: ts + 5 });
const move = (space: string, key: string, ts: number, delta: 1 | -1): MoveMsg =>
  ({ type: "move", site: "mall", space, key, ts, delta, receivedAt: ts });

async function counterValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

describe("doorway actor", () => {
  const setup = (opts: { maxFutureMs?: number } = {}) => {
    const registry = new Registry();
    const b = doorwayBehavior({ topology, registry, params: { ...doorwayParams, ...opts } });
    return { registry, b, state: b.initialState("mall.inner"), ctx: new RecordingContext("doorway", "mall.inner", () => T0) };
  };

  it("turns a crossing into a move out of exiting_to and into entering_to, with deterministic ids, and records it raw", () => {
    const { b, state, ctx } = setup();
    b.handle(state, crossing("inner", "e1", T0, 1), ctx, meta());
    expect(ctx.sends).toEqual([
      { kind: "space", id: "mall.hall", msgId: "mv:mall:hall:dpu-inner:e1", body: move("hall", "dpu-inner:e1", T0, 1) },
      { kind: "space", id: "mall.lobby", msgId: "mv:mall:lobby:dpu-inner:e1", body: move("lobby", "dpu-inner:e1", T0, -1) },
    ].map((s) => ({ ...s, body: { ...(s.body as MoveMsg), receivedAt: T0 + 5 } })));
    expect(ctx.writes).toHaveLength(1);
    const p = ctx.writes[0]!;
    expect(p.measurement).toBe("crossings");
    expect(p.tags).toEqual({ site: "mall", doorway: "inner", device: "dpu-inner" });
    expect(p.fields).toEqual({ delta: 1 });
    // nanoseconds: the ms, then 6 digits that keep same-ms crossings apart
    expect(String(p.timestamp)).toMatch(new RegExp(`^${T0}\\d{6}$`));

    ctx.take();
    b.handle(state, crossing("inner", "e2", T0, -1), ctx, meta());
    expect(ctx.sends.map((s) => [s.id, (s.body as MoveMsg).delta])).toEqual([["mall.hall", -1], ["mall.lobby", 1]]);
    expect(String(ctx.writes[0]!.timestamp)).not.toBe(String(p.timestamp));
  });

  it("sends no move to outside", () => {
    const registry = new Registry();
    const b = doorwayBehavior({ topology, registry, params: doorwayParams });
    const ctx = new RecordingContext("doorway", "mall.main");
    b.handle(b.initialState("mall.main"), crossing("main", "e1", T0, -1), ctx, meta());
    expect(ctx.sends.map((s) => [s.id, (s.body as MoveMsg).delta])).toEqual([["mall.lobby", -1]]);
  });

  it("ignores a re-sent crossing, even after a snapshot and restart", () => {
    const { b, state, ctx, registry } = setup();
    b.handle(state, crossing("inner", "e1", T0, 1), ctx, meta());
    ctx.take();
    b.handle(state, crossing("inner", "e1", T0, 1), ctx, meta());
    const restored = b.decode!(JSON.parse(JSON.stringify(b.encode!(state))), "mall.inner");
    b.handle(restored, crossing("inner", "e1", T0, 1), ctx, meta());
    expect(ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
    return expect(counterValue(registry, "footfall_actor_skipped_total", { kind: "doorway", reason: "duplicate" })).resolves.toBe(2);
  });

  it("counts, logs and ignores a crossing older than the late horizon; a re-send of it cannot count either", async () => {
    const { b, state, ctx, registry } = setup();
    b.handle(state, crossing("inner", "old", T0, 1), ctx, meta());
    b.handle(state, crossing("inner", "new", T0 + 2 * HOUR, 1), ctx, meta());
    ctx.take();
    b.handle(state, crossing("inner", "old", T0, 1), ctx, meta());
    b.handle(state, crossing("inner", "older", T0 + HOUR - 1, 1), ctx, meta());
    expect(ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
    expect(await counterValue(registry, "footfall_occupancy_too_late_total", { kind: "doorway" })).toBe(2);
    // exactly at the horizon still counts
    b.handle(state, crossing("inner", "edge", T0 + HOUR, 1), ctx, meta());
    expect(ctx.sends).toHaveLength(2);
  });

  it("skips invalid, misrouted, unknown-doorway and (when configured) future crossings without throwing", async () => {
    const { b, state, ctx, registry } = setup({ maxFutureMs: 60_000 });
    const bad: unknown[] = [
      null, "x", { type: "crossing" }, { ...crossing("inner", "e", T0, 1), delta: 2 },
      { ...crossing("inner", "e", T0, 1), extra: true }, { ...crossing("inner", "e", T0, 1), site: "bad site" },
    ];
    for (const body of bad) b.handle(state, body, ctx, meta());
    b.handle(state, crossing("main", "e", T0, 1), ctx, meta()); // for another doorway actor
    const unknownCtx = new RecordingContext("doorway", "mall.ghost");
    b.handle(b.initialState("mall.ghost"), crossing("ghost", "e", T0, 1), unknownCtx, meta());
    b.handle(state, crossing("inner", "e", T0 + 61_000, 1), ctx, meta());
    expect(ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
    expect(unknownCtx.sends).toEqual([]);
    const skipped = (reason: string) => counterValue(registry, "footfall_actor_skipped_total", { kind: "doorway", reason });
    expect(await skipped("invalid")).toBe(bad.length);
    expect(await skipped("misrouted")).toBe(1);
    expect(await skipped("unknown_doorway")).toBe(1);
    expect(await skipped("future")).toBe(1);
    // the future crossing was not remembered: once the clock catches up it counts
    b.handle(state, crossing("inner", "e", T0 + 61_000, 1), new RecordingContext("doorway", "mall.inner", () => T0 + 61_000), meta());
    expect(state.seen.size).toBe(1);
  });

  /** A lookup that follows its store with a lag: it knows `later` only once refresh() read the store. */
  class LaggingLookup implements TopologyLookup {
    refreshes = 0;
    private known = new StaticTopologyLookup([]);
    constructor(private readonly later: StaticTopologyLookup, private readonly failures = 0) {}
    doorway(site: string, id: string) { return this.known.doorway(site, id); }
    capacity() { return undefined; }
    async refresh(): Promise<void> {
      this.refreshes++;
      if (this.refreshes <= this.failures) throw new Error("store unavailable");
      this.known = this.later;
    }
  }

  it("reads the topology again before skipping a crossing on a doorway it does not know (the lookup may lag behind the store)", async () => {
    const registry = new Registry();
    const lookup = new LaggingLookup(topology);
    const b = doorwayBehavior({ topology: lookup, registry, params: doorwayParams });
    const state = b.initialState("mall.inner");
    const ctx = new RecordingContext("doorway", "mall.inner", () => T0);
    await b.handle(state, crossing("inner", "e1", T0, 1), ctx, meta());
    expect(lookup.refreshes).toBe(1);
    expect(ctx.sends.map((s) => [s.id, (s.body as MoveMsg).delta])).toEqual([["mall.hall", 1], ["mall.lobby", -1]]);
    expect(ctx.writes).toHaveLength(1);
    // known now: no further read
    await b.handle(state, crossing("inner", "e2", T0 + 1, 1), ctx, meta());
    expect(lookup.refreshes).toBe(1);
    expect(await counterValue(registry, "footfall_actor_skipped_total", { kind: "doorway", reason: "unknown_doorway" })).toBe(0);
  });

  it("retries a topology read that fails, and skips a doorway the store does not know either", async () => {
    const registry = new Registry();
    const flaky = new LaggingLookup(topology, 1);
    const b = doorwayBehavior({ topology: flaky, registry, params: doorwayParams });
    const ctx = new RecordingContext("doorway", "mall.inner", () => T0);
    await b.handle(b.initialState("mall.inner"), crossing("inner", "e1", T0, 1), ctx, meta());
    expect(flaky.refreshes).toBe(2);
    expect(ctx.sends).toHaveLength(2);

    const ghostCtx = new RecordingContext("doorway", "mall.ghost", () => T0);
    await b.handle(b.initialState("mall.ghost"), crossing("ghost", "e1", T0, 1), ghostCtx, meta());
    expect(ghostCtx.take()).toEqual({ sends: [], writes: [], emits: [] });
    expect(await counterValue(registry, "footfall_actor_skipped_total", { kind: "doorway", reason: "unknown_doorway" })).toBe(1);
  });
});

describe("space actor", () => {
  const setup = () => {
    const registry = new Registry();
    const b = spaceBehavior({ registry, params });
    return { registry, b, state: b.initialState("mall.hall"), ctx: new RecordingContext("space", "mall.hall") };
  };
  const writtenCounts = (ctx: RecordingContext) =>
    ctx.writes.map((p) => [Number(BigInt(String(p.timestamp)) / 1_000_000n), p.fields!.count]);

  it("writes one point per distinct ts at flush, passes the tail to the site and announces a changed count", () => {
    const { b, state, ctx } = setup();
    b.handle(state, move("hall", "d:1", T0, 1), ctx, meta());
    b.handle(state, move("hall", "d:2", T0, 1), ctx, meta());
    b.handle(state, move("hall", "d:3", T0 + 10, 1), ctx, meta());
    expect(ctx.writes).toEqual([]); // nothing before the flush
    b.flush!(state, ctx);
    expect(writtenCounts(ctx)).toEqual([[T0, 2], [T0 + 10, 3]]);
    expect(ctx.writes[0]).toMatchObject({ measurement: "occupancy", tags: { site: "mall", space: "hall" }, timestamp: `${T0}000000` });
    expect(ctx.sends).toHaveLength(1);
    expect(ctx.sends[0]).toMatchObject({ kind: "site", id: "mall" });
    expect(ctx.sends[0]!.body).toEqual({ type: "space-counts", site: "mall", space: "hall", from: T0, before: 0, version: 3, points: [[T0, 2], [T0 + 10, 3]] } satisfies SpaceCountsMsg);
    expect(ctx.emits).toEqual([{ subject: occupancyEventSubject("mall", "hall"), msgId: expect.any(String),
      body: { type: "occupancy.changed", site: "mall", space: "hall", count: 3, at: T0 + 10 } }]);
  });

  it("a replayed move changes nothing; a flush with nothing new does nothing", () => {
    const { b, state, ctx, registry } = setup();
    b.handle(state, move("hall", "d:1", T0, 1), ctx, meta());
    b.flush!(state, ctx);
    ctx.take();
    b.handle(state, move("hall", "d:1", T0, 1), ctx, meta());
    b.flush!(state, ctx);
    expect(ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
    return expect(counterValue(registry, "footfall_actor_skipped_total", { kind: "space", reason: "duplicate" })).resolves.toBe(1);
  });

  it("a late move rewrites every later point, and the site gets the corrected tail", () => {
    const { b, state, ctx } = setup();
    for (let i = 0; i < 5; i++) b.handle(state, move("hall", `d:${i}`, T0 + i * 1000, 1), ctx, meta());
    b.flush!(state, ctx);
    ctx.take();
    // someone left at T0+1500, reported late
    b.handle(state, move("hall", "late:1", T0 + 1500, -1), ctx, meta());
    b.flush!(state, ctx);
    expect(writtenCounts(ctx)).toEqual([[T0 + 1500, 1], [T0 + 2000, 2], [T0 + 3000, 3], [T0 + 4000, 4]]);
    expect(ctx.sends[0]!.body).toMatchObject({ from: T0 + 1500, before: 2, points: [[T0 + 1500, 1], [T0 + 2000, 2], [T0 + 3000, 3], [T0 + 4000, 4]] });
    expect(ctx.emits.map((e) => (e.body as { count: number }).count)).toEqual([4]);
  });

  it("does not announce when a late move leaves the current count as it was", () => {
    const { b, state, ctx } = setup();
    b.handle(state, move("hall", "d:1", T0 + 1000, -1), ctx, meta()); // clamped: 0
    b.handle(state, move("hall", "d:2", T0 + 2000, 1), ctx, meta()); // 1
    b.flush!(state, ctx);
    ctx.take();
    b.handle(state, move("hall", "late", T0, 1), ctx, meta()); // 1, 0, 1: only history changes
    b.flush!(state, ctx);
    expect(writtenCounts(ctx)).toEqual([[T0, 1], [T0 + 1000, 0], [T0 + 2000, 1]]);
    expect(ctx.emits).toEqual([]);
  });

  it("sends the same message ids when the same moves are replayed from a snapshot", () => {
    const { b, state, ctx } = setup();
    b.handle(state, move("hall", "d:1", T0, 1), ctx, meta());
    b.flush!(state, ctx);
    const snap = JSON.parse(JSON.stringify(b.encode!(state)));
    b.handle(state, move("hall", "d:2", T0 - 5, 1), ctx, meta());
    b.flush!(state, ctx);
    const first = ctx.take();
    const replayed = b.decode!(snap, "mall.hall");
    b.handle(replayed, move("hall", "d:2", T0 - 5, 1), ctx, meta());
    b.flush!(replayed, ctx);
    const second = ctx.take();
    expect(second.sends.map((s) => s.msgId)).toEqual(first.sends.slice(1).map((s) => s.msgId));
    expect(second.sends.map((s) => s.body)).toEqual(first.sends.slice(1).map((s) => s.body));
    expect(second.emits.map((e) => e.msgId)).toEqual(first.emits.slice(1).map((e) => e.msgId));
  });

  it("splits a long correction into chunks that tile the tail; the site total comes out exact", () => {
    const { b, state, ctx } = setup();
    const site = siteBehavior({ registry: new Registry(), params });
    const siteState = site.initialState("mall");
    const siteCtx = new RecordingContext("site", "mall");
    const n = 2 * POINTS_PER_CHUNK + 10;
    for (let i = 0; i < n; i++) b.handle(state, move("hall", `d:${i}`, T0 + i * 10, i % 4 === 3 ? -1 : 1), ctx, meta());
    b.flush!(state, ctx);
    for (const s of ctx.take().sends) site.handle(siteState, s.body, siteCtx, meta());
    site.flush!(siteState, siteCtx);
    siteCtx.take();
    b.handle(state, move("hall", "late", T0 - 1, 1), ctx, meta());
    b.flush!(state, ctx);
    const { sends, writes } = ctx.take();
    expect(sends).toHaveLength(3);
    expect(writes).toHaveLength(n + 1);
    expect(new Set(sends.map((s) => s.msgId)).size).toBe(3);
    const bodies = sends.map((s) => s.body as SpaceCountsMsg);
    expect(bodies[1]!.from).toBe(bodies[0]!.points.at(-1)![0] + 1);
    expect(bodies[1]!.before).toBe(bodies[0]!.points.at(-1)![1]);
    for (const body of bodies) site.handle(siteState, body, siteCtx, meta());
    site.flush!(siteState, siteCtx);
    const siteWrites = siteCtx.take().writes;
    expect(siteWrites).toHaveLength(n + 1);
    // truth: +1 at T0-1, then +1 +1 +1 -1 repeating
    let c = 1;
    const want = [[T0 - 1, 1], ...Array.from({ length: n }, (_, i) => [T0 + i * 10, (c += i % 4 === 3 ? -1 : 1)])];
    expect(siteWrites.map((p) => [Number(BigInt(String(p.timestamp)) / 1_000_000n), p.fields!.count])).toEqual(want);
  });

  it("skips invalid and misrouted moves without throwing", async () => {
    const { b, state, ctx, registry } = setup();
    for (const body of [undefined, {}, { ...move("hall", "k", T0, 1), delta: 0 }, { ...move("hall", "", T0, 1) }]) b.handle(state, body, ctx, meta());
    b.handle(state, move("shop", "k", T0, 1), ctx, meta());
    b.flush!(state, ctx);
    expect(ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
    expect(await counterValue(registry, "footfall_actor_skipped_total", { kind: "space", reason: "invalid" })).toBe(4);
    expect(await counterValue(registry, "footfall_actor_skipped_total", { kind: "space", reason: "misrouted" })).toBe(1);
  });
});

describe("space actor capacity alerts", () => {
  it("raises an alert when the count goes above the space's capacity, once, and clears it when it is back", () => {
    const topology = new StaticTopologyLookup([{ site: "mall", doorways: [], spaces: [{ id: "hall", name: "Hall", capacity: 2 }] }]);
    const b = spaceBehavior({ registry: new Registry(), topology, params });
    let state = b.initialState("mall.hall");
    const ctx = new RecordingContext("space", "mall.hall");
    const alerts = () => ctx.emits.filter((e) => e.subject === capacityAlertSubject("mall", "hall")).map((e) => e.body);
    for (let i = 1; i <= 3; i++) b.handle(state, move("hall", `d:${i}`, T0 + i, 1), ctx, meta());
    b.flush!(state, ctx);
    expect(alerts()).toEqual([{ type: "alert.capacity", site: "mall", space: "hall", state: "over", count: 3, capacity: 2, at: T0 + 3 }]);
    // still over: no second alert, also not after a snapshot and restore
    state = b.decode!(JSON.parse(JSON.stringify(b.encode!(state))), "mall.hall");
    b.handle(state, move("hall", "d:4", T0 + 4, 1), ctx, meta());
    b.flush!(state, ctx);
    expect(alerts()).toHaveLength(1);
    b.handle(state, move("hall", "d:5", T0 + 5, -1), ctx, meta());
    b.handle(state, move("hall", "d:6", T0 + 6, -1), ctx, meta());
    b.flush!(state, ctx);
    expect(alerts()).toHaveLength(2);
    expect(alerts()[1]).toMatchObject({ state: "cleared", count: 2, capacity: 2 });
  });

  it("raises no alert for a space without a capacity", () => {
    const topology = new StaticTopologyLookup([{ site: "mall", doorways: [], spaces: [{ id: "hall", name: "Hall" }] }]);
    const b = spaceBehavior({ registry: new Registry(), topology, params });
    const state = b.initialState("mall.hall");
    const ctx = new RecordingContext("space", "mall.hall");
    for (let i = 1; i <= 50; i++) b.handle(state, move("hall", `d:${i}`, T0 + i, 1), ctx, meta());
    b.flush!(state, ctx);
    expect(ctx.emits.some((e) => e.subject.startsWith("evt.alert."))).toBe(false);
  });
});

describe("site actor", () => {
  it("sums the spaces at every instant and stays right after a late correction", () => {
    const site = siteBehavior({ registry: new Registry(), params });
    const state = site.initialState("mall");
    const ctx = new RecordingContext("site", "mall");
    let version = 0;
    const counts = (space: string, from: number, before: number, points: Array<[number, number]>): SpaceCountsMsg =>
      ({ type: "space-counts", site: "mall", space, from, before, version: ++version, points });
    site.handle(state, counts("lobby", T0, 0, [[T0, 1], [T0 + 20, 2]]), ctx, meta());
    site.handle(state, counts("hall", T0 + 10, 0, [[T0 + 10, 1], [T0 + 30, 2]]), ctx, meta());
    site.flush!(state, ctx);
    const totals = () => ctx.writes.map((p) => [Number(BigInt(String(p.timestamp)) / 1_000_000n), p.fields!.count]);
    expect(totals()).toEqual([[T0, 1], [T0 + 10, 2], [T0 + 20, 3], [T0 + 30, 4]]);
    expect(ctx.writes[0]).toMatchObject({ measurement: "site_occupancy", tags: { site: "mall" } });
    expect(ctx.emits).toEqual([{ subject: siteOccupancyEventSubject("mall"), msgId: expect.any(String),
      body: { type: "site_occupancy.changed", site: "mall", count: 4, at: T0 + 30 } }]);
    ctx.take();
    // lobby learns late that someone left at T0+5: its counts from T0+5 drop by one
    site.handle(state, counts("lobby", T0 + 5, 1, [[T0 + 5, 0], [T0 + 20, 1]]), ctx, meta());
    site.flush!(state, ctx);
    expect(totals()).toEqual([[T0 + 5, 0], [T0 + 10, 1], [T0 + 20, 2], [T0 + 30, 3]]);
    expect(ctx.emits.map((e) => (e.body as { count: number }).count)).toEqual([3]);
    // the same message again changes nothing but rewrites the same points
    ctx.take();
    site.handle(state, counts("lobby", T0 + 5, 1, [[T0 + 5, 0], [T0 + 20, 1]]), ctx, meta());
    site.flush!(state, ctx);
    expect(totals()).toEqual([[T0 + 5, 0], [T0 + 10, 1], [T0 + 20, 2], [T0 + 30, 3]]);
    expect(ctx.emits).toEqual([]);
  });

  it("takes a space's count before its first tail from `before` (a site that joins late)", () => {
    const site = siteBehavior({ registry: new Registry(), params });
    const state = site.initialState("mall");
    const ctx = new RecordingContext("site", "mall");
    site.handle(state, { type: "space-counts", site: "mall", space: "hall", from: T0 + 100, before: 2, version: 7, points: [[T0 + 100, 3]] }, ctx, meta());
    site.handle(state, { type: "space-counts", site: "mall", space: "lobby", from: T0, before: 0, version: 4, points: [[T0, 1], [T0 + 50, 2]] }, ctx, meta());
    site.flush!(state, ctx);
    expect(ctx.writes.map((p) => [Number(BigInt(String(p.timestamp)) / 1_000_000n), p.fields!.count]))
      .toEqual([[T0, 3], [T0 + 50, 4], [T0 + 100, 5]]);
  });

  it("skips invalid, misrouted and unordered space counts", () => {
    const site = siteBehavior({ registry: new Registry(), params });
    const state = site.initialState("mall");
    const ctx = new RecordingContext("site", "mall");
    const good: SpaceCountsMsg = { type: "space-counts", site: "mall", space: "hall", from: T0, before: 0, version: 1, points: [[T0, 1]] };
    for (const body of [null, { ...good, before: -1 }, { ...good, site: "other" }, { ...good, points: [[T0 + 1, 1], [T0, 2]] }, { ...good, points: [[T0 - 1, 1]] }]) {
      site.handle(state, body, ctx, meta());
    }
    site.flush!(state, ctx);
    expect(ctx.take()).toEqual({ sends: [], writes: [], emits: [] });
  });
});

describe("doorway -> space -> site, end to end through the behaviours", () => {
  it("shuffled, duplicated, late delivery with random flushes and restarts gives every space and the site their exact history", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rnd = prng(seed);
      const doorways = ["main", "inner", "shopdoor", "side"];
      const crossings: CrossingMsg[] = [];
      for (let i = 0; i < 400; i++) {
        const d = doorways[Math.floor(rnd() * doorways.length)]!;
        crossings.push(crossing(d, `e${i}`, T0 + Math.floor(rnd() * 60_000), rnd() < 0.6 ? 1 : -1));
      }
      const resent = crossings.filter(() => rnd() < 0.15);
      const delivery = shuffle([...crossings, ...resent], rnd);
      const h = new OccupancyHarness({ topology, lateHorizonHours: 1 });
      delivery.forEach((c, i) => {
        h.crossing(c);
        if (rnd() < 0.05) h.run();
        if (rnd() < 0.03) h.settle();
        if (rnd() < 0.01) h.passivateAll();
      });
      h.settle();
      const truth = siteTruth(crossings, topology, SPACES);
      for (const space of SPACES) expect(h.series("occupancy", { site: "mall", space })).toEqual(truth.perSpace.get(space));
      expect(h.series("site_occupancy", { site: "mall" })).toEqual(truth.site);
      // the last announcements are the current counts
      for (const space of SPACES) {
        const last = h.events.filter((e) => e.subject === occupancyEventSubject("mall", space)).at(-1);
        const want = truth.perSpace.get(space)!.at(-1)?.[1] ?? 0;
        expect((last?.body as { count: number } | undefined)?.count ?? 0).toBe(want);
      }
      const lastSite = h.events.filter((e) => e.subject === siteOccupancyEventSubject("mall")).at(-1);
      expect((lastSite?.body as { count: number } | undefined)?.count ?? 0).toBe(truth.site.at(-1)![1]);
    }
  });

  it("the registry of kinds serves the occupancy kinds next to the others", () => {
    const reg = buildKinds({ topology, sites: new StaticSiteLookup([]), config: { lateHorizonHours: 1 }, registry: new Registry() });
    expect([...reg.keys()].sort()).toEqual(["camera", "doorway", "linker", "person", "site", "space", "zone"]);
    for (const [kind, b] of reg) expect(b.kind).toBe(kind);
  });
});
