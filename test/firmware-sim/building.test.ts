import { describe, expect, it } from "vitest";
import { OUTSIDE } from "../../contracts/ids.ts";
import { TopologyDoc } from "../../contracts/topology.ts";
import { validateTopology } from "../../topology/validate.ts";
import { demoMall, planSecrets, toTopologyDoc, type BuildingPlan } from "../../firmware-sim/building.ts";
import { simulateWalkers } from "../../firmware-sim/walkers.ts";
import { CrossingQueue } from "../../firmware-sim/crossing-queue.ts";
import { PlanError } from "../../firmware-sim/floor-graph.ts";
import { mulberry32, shuffle } from "../../firmware-sim/random.ts";

const T0 = Date.UTC(2026, 2, 14, 9);
const plan = demoMall();
const run = (seed: number, walkers = 150, durationMs = 20 * 60_000) =>
  simulateWalkers({ plan, walkers, startTs: T0, durationMs, seed });

describe("demo mall plan", () => {
  it("has at least 6 spaces and 9 doorways, several to outside and some between spaces, one DPU per doorway", () => {
    expect(plan.site).toBe("demo-mall");
    expect(plan.spaces.length).toBeGreaterThanOrEqual(6);
    expect(plan.doorways.length).toBeGreaterThanOrEqual(9);
    const toOutside = plan.doorways.filter((d) => d.entering_to === OUTSIDE || d.exiting_to === OUTSIDE);
    expect(toOutside.length).toBeGreaterThanOrEqual(3);
    expect(plan.doorways.length - toOutside.length).toBeGreaterThanOrEqual(3);
    expect(plan.dpus.map((d) => d.id)).toEqual(plan.doorways.map((d) => `dpu-${d.id}`));
    expect(plan.dpus.map((d) => d.doorway)).toEqual(plan.doorways.map((d) => d.id));
    expect(demoMall("other").site).toBe("other");
    // device ids are unique per installation: site-scoped ids let two simulated sites share a stack
    expect(demoMall("mall-x", { siteScopedDpus: true }).dpus.map((d) => d.id)).toEqual(plan.doorways.map((d) => `mall-x-dpu-${d.id}`));
    expect(() => demoMall("s".repeat(60), { siteScopedDpus: true })).toThrow(/longer than 64/);
  });

  it("converts 1:1 into a topology document the contract and the topology rules accept", () => {
    const secrets = planSecrets(plan);
    const doc = TopologyDoc.parse(toTopologyDoc(plan, secrets));
    expect(doc.spaces).toEqual(plan.spaces);
    expect(doc.doorways).toEqual(plan.doorways);
    expect(doc.devices).toEqual(plan.dpus.map((d) => ({ id: d.id, kind: "dpu", doorway: d.doorway, secret: secrets[d.id] })));
    expect(validateTopology(plan.site, doc, () => undefined)).toEqual({ ok: true });
  });
});

describe("walker simulation and its ground truth", () => {
  const sim = run(42);
  const { crossings, truth } = sim;
  const doorway = new Map(plan.doorways.map((d) => [d.id, d]));

  it("is deterministic for a seed and differs between seeds", () => {
    expect(run(42).crossings).toEqual(crossings);
    expect(run(43).crossings).not.toEqual(crossings);
  });

  it("produces plenty of crossings inside the run, in time order, no two at the same millisecond", () => {
    expect(crossings.length).toBeGreaterThan(300);
    const ts = crossings.map((c) => c.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(new Set(ts).size).toBe(ts.length);
    expect(ts.every((t) => Number.isInteger(t) && t >= T0 && t < T0 + 20 * 60_000)).toBe(true);
  });

  it("each crossing is seen by its doorway's DPU with the sign convention (+1 exiting_to -> entering_to)", () => {
    for (const c of crossings) {
      const d = doorway.get(c.doorway)!;
      expect(c.device).toBe(`dpu-${c.doorway}`);
      if (c.delta === 1) expect([c.from, c.to]).toEqual([d.exiting_to, d.entering_to]);
      else expect([c.from, c.to]).toEqual([d.entering_to, d.exiting_to]);
    }
  });

  it("walkers come in from outside, move from where they are, and dwell at least 5 s between doorways", () => {
    const byWalker = new Map<string, typeof crossings>();
    for (const c of crossings) byWalker.set(c.walker, [...(byWalker.get(c.walker) ?? []), c]);
    expect(byWalker.size).toBeGreaterThan(100);
    for (const moves of byWalker.values()) {
      expect(moves[0]!.from).toBe(OUTSIDE);
      for (let i = 1; i < moves.length; i++) {
        expect(moves[i]!.from).toBe(moves[i - 1]!.to);
        expect(moves[i]!.ts - moves[i - 1]!.ts).toBeGreaterThanOrEqual(5000);
      }
    }
    // some have left, some are still inside at the end
    const end = T0 + 20 * 60_000;
    const left = [...byWalker.keys()].filter((w) => truth.whereIs(w, end) === OUTSIDE);
    const inside = [...byWalker.keys()].filter((w) => truth.whereIs(w, end) !== OUTSIDE);
    expect(left.length).toBeGreaterThan(0);
    expect(inside.length).toBeGreaterThan(0);
    expect(truth.siteCountAt(end)).toBe(inside.length);
  });

  it("counts equal the running sum of DPU deltas per space, are never negative, and add up to the site count", () => {
    const running = new Map(plan.spaces.map((s) => [s.id, 0]));
    let inside = 0;
    for (const c of crossings) {
      const d = doorway.get(c.doorway)!;
      // computed from the doorway definition and the DPU's delta alone
      if (running.has(d.entering_to)) running.set(d.entering_to, running.get(d.entering_to)! + c.delta);
      if (running.has(d.exiting_to)) running.set(d.exiting_to, running.get(d.exiting_to)! - c.delta);
      if (d.entering_to === OUTSIDE) inside -= c.delta;
      if (d.exiting_to === OUTSIDE) inside += c.delta;
      for (const [space, n] of running) {
        expect(n).toBeGreaterThanOrEqual(0);
        expect(truth.countAt(space, c.ts)).toBe(n);
        // the move counts from its own millisecond on, not before
        const before = space === d.entering_to ? n - c.delta : space === d.exiting_to ? n + c.delta : n;
        expect(truth.countAt(space, c.ts - 1)).toBe(before);
      }
      expect(truth.siteCountAt(c.ts)).toBe(inside);
      expect(Object.values(truth.countsAt(c.ts)).reduce((a, b) => a + b, 0)).toBe(inside);
    }
    expect(truth.siteCountAt(T0 - 1)).toBe(0);
    expect(() => truth.countAt(OUTSIDE, T0)).toThrow(/unknown space/);
  });

  it("everyone who left is outside: no space holds a walker whose last move was out of the building", () => {
    const end = T0 + 20 * 60_000;
    const last = new Map<string, string>();
    for (const c of crossings) last.set(c.walker, c.to);
    const perSpace = new Map<string, number>();
    for (const where of last.values()) if (where !== OUTSIDE) perSpace.set(where, (perSpace.get(where) ?? 0) + 1);
    for (const s of plan.spaces) expect(truth.countAt(s.id, end)).toBe(perSpace.get(s.id) ?? 0);
  });

  it("sampleTimes spreads distinct instants over the run, each more than avoidWithinMs from any crossing", () => {
    const samples = truth.sampleTimes(25, { avoidWithinMs: 1000 });
    expect(samples).toHaveLength(25);
    expect(samples).toEqual([...samples].sort((a, b) => a - b));
    expect(new Set(samples).size).toBe(25);
    for (const t of samples) {
      expect(t).toBeGreaterThanOrEqual(T0);
      expect(t).toBeLessThanOrEqual(T0 + 20 * 60_000);
      for (const c of crossings) expect(Math.abs(c.ts - t)).toBeGreaterThan(1000);
    }
    const mid = T0 + 10 * 60_000;
    expect(samples.filter((t) => t < mid).length).toBeGreaterThanOrEqual(8);
    expect(samples.filter((t) => t >= mid).length).toBeGreaterThanOrEqual(8);
    expect(samples.some((t) => truth.siteCountAt(t) > 0)).toBe(true);
    expect(() => truth.sampleTimes(5, { avoidWithinMs: 60 * 60_000 })).toThrow(/away from every crossing/);
  });
});

describe("plan checks", () => {
  const bad = (p: Partial<BuildingPlan>): BuildingPlan => ({ ...plan, ...p });

  it("refuses unknown spaces, a second DPU on a doorway, a declared outside and unreachable spaces", () => {
    const sim = (p: BuildingPlan) => () => simulateWalkers({ plan: p, walkers: 1, startTs: T0, durationMs: 1000, seed: 1 });
    expect(sim(bad({ doorways: [...plan.doorways, { id: "x", entering_to: "nowhere", exiting_to: "lobby" }] }))).toThrow(/unknown space "nowhere"/);
    expect(sim(bad({ dpus: [...plan.dpus, { id: "dpu-extra", doorway: "main-entrance" }] }))).toThrow(/two dpus/);
    expect(sim(bad({ spaces: [...plan.spaces, { id: OUTSIDE, name: "Outside" }] }))).toThrow(PlanError);
    expect(sim(bad({ spaces: [...plan.spaces, { id: "vault", name: "Vault" }] }))).toThrow(/"vault" cannot be reached/);
  });
});

describe("seeded randomness and the crossing queue", () => {
  it("mulberry32 repeats for a seed, stays in [0, 1), and shuffle is a permutation", () => {
    const a = mulberry32(5);
    const b = mulberry32(5);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const list = Array.from({ length: 50 }, (_, i) => i);
    const mixed = shuffle(mulberry32(9), [...list]);
    expect(mixed).not.toEqual(list);
    expect([...mixed].sort((x, y) => x - y)).toEqual(list);
  });

  it("the queue hands crossings back in time order", () => {
    const q = new CrossingQueue();
    const tss = shuffle(mulberry32(3), Array.from({ length: 200 }, (_, i) => i * 7));
    for (const ts of tss) q.push({ device: "d", doorway: "x", ts, delta: 1, walker: "w", from: OUTSIDE, to: "lobby" });
    const out: number[] = [];
    for (let c = q.pop(); c; c = q.pop()) out.push(c.ts);
    expect(out).toEqual([...tss].sort((x, y) => x - y));
  });
});
