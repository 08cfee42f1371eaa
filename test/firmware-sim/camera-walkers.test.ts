import { describe, expect, it } from "vitest";
import type { Point } from "../../contracts/geometry.ts";
import { OUTSIDE } from "../../contracts/ids.ts";
import { pointInPolygon } from "../../topology/geometry/polygon.ts";
import { cameraMall } from "../../firmware-sim/camera-mall.ts";
import { CameraTruth } from "../../firmware-sim/camera-truth.ts";
import { simulateCameraWalkers, walkerDoorCrossings, walkerPosition, WalkerCursor, type CameraWalker } from "../../firmware-sim/camera-walkers.ts";

const T0 = Date.UTC(2026, 5, 1, 10);
const plan = cameraMall();
const space = new Map(plan.spaces.map((s) => [s.id, s]));
const doorway = new Map(plan.doorways.map((d) => [d.id, d]));
const run = (seed: number, walkers = 120, durationMs = 15 * 60_000, arrivalWindowMs?: number) =>
  simulateCameraWalkers({ plan, walkers, startTs: T0, durationMs, seed, arrivalWindowMs });
const walkers = run(5);

function segDist(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}
const onBoundary = (p: Point, poly: readonly Point[]) => poly.some((a, i) => segDist(p, a, poly[(i + 1) % poly.length]!) < 1e-6);
const inSpace = (p: Point, id: string) => { const poly = space.get(id)!.polygon; return pointInPolygon(p, poly) || onBoundary(p, poly); };

describe("camera mall walkers", () => {
  it("are deterministic for a seed and differ between seeds", () => {
    expect(run(5)).toEqual(walkers);
    expect(run(6)).not.toEqual(walkers);
  });

  it("never leave the walkable spaces: every leg lies in its space, and spaces change only on a doorway's segment", () => {
    for (const w of walkers) {
      for (const [i, l] of w.legs.entries()) {
        // spaces are convex: both ends in the space means the whole straight leg is
        expect(inSpace([l.x0, l.y0], l.space) && inSpace([l.x1, l.y1], l.space), `${w.id} leg ${i} in ${l.space}`).toBe(true);
        const next = w.legs[i + 1];
        if (next && next.space !== l.space) {
          const door = plan.doorways.find((d) => [d.entering_to, d.exiting_to].includes(l.space) && [d.entering_to, d.exiting_to].includes(next.space));
          expect(door, `${w.id}: ${l.space} -> ${next.space}`).toBeDefined();
          expect(segDist([l.x1, l.y1], door!.a, door!.b)).toBeLessThan(1e-9);
        }
        if (next) expect(next.t0).toBe(l.t1);
      }
    }
  });

  it("walk at 1.0-1.5 m/s and pause 5-40 s at 2-4 points of each of 1-3 shops", () => {
    const speeds = walkers.map((w) => w.speedMps);
    expect(Math.min(...speeds)).toBeGreaterThanOrEqual(1.0);
    expect(Math.max(...speeds)).toBeLessThanOrEqual(1.5);
    for (const w of walkers) {
      expect(w.shops.length).toBeGreaterThanOrEqual(1);
      expect(w.shops.length).toBeLessThanOrEqual(3);
      for (const l of w.legs) {
        const len = Math.hypot(l.x1 - l.x0, l.y1 - l.y0);
        if (len === 0) {
          expect(space.get(l.space)!.kind).toBe("shop");
          expect(l.t1 - l.t0).toBeGreaterThanOrEqual(5_000);
          expect(l.t1 - l.t0).toBeLessThanOrEqual(40_000);
        } else {
          expect(len / ((l.t1 - l.t0) / 1000)).toBeCloseTo(w.speedMps, 4);
        }
      }
      for (const shop of w.shops) {
        const pauses = w.legs.filter((l) => l.space === shop && l.x0 === l.x1 && l.y0 === l.y1).length;
        expect(pauses).toBeGreaterThanOrEqual(2);
        expect(pauses).toBeLessThanOrEqual(4);
      }
    }
    // sampled positions 1 s apart never jump faster than the walker walks
    const w = walkers[0]!;
    let prev = walkerPosition(w, w.enterTs)!;
    for (let t = w.enterTs + 1000; t <= w.leaveTs; t += 1000) {
      const p = walkerPosition(w, t)!;
      expect(Math.hypot(p.x - prev.x, p.y - prev.y)).toBeLessThanOrEqual(w.speedMps * 1.0001);
      prev = p;
    }
  });

  it("come in through street doors, go through shop doors, and leave through street doors", () => {
    for (const w of walkers) {
      expect(w.doors[0]!.from).toBe(OUTSIDE);
      expect(w.doors[w.doors.length - 1]!.to).toBe(OUTSIDE);
      expect(w.doors.filter((d) => d.from === OUTSIDE || d.to === OUTSIDE)).toHaveLength(2);
      expect(w.doors[0]!.ts).toBe(w.enterTs);
      expect(w.doors[w.doors.length - 1]!.ts).toBeCloseTo(w.leaveTs, 6);
      for (const shop of w.shops) expect(w.doors.some((d) => d.to === shop)).toBe(true);
    }
    const crossings = walkerDoorCrossings(plan, walkers, Infinity);
    expect(crossings.length).toBe(walkers.reduce((n, w) => n + w.doors.length, 0));
    for (const c of crossings) {
      const d = doorway.get(c.doorway)!;
      expect(c.delta).toBe(c.from === d.exiting_to && c.to === d.entering_to ? 1 : -1);
      expect(c.device).toBe(`dpu-${c.doorway}`);
    }
  });

  it("wear realistic clothes: about 15-20% blue upper, a mix of colours, heights 1.58-1.92 m", () => {
    const many = run(9, 3000, 60 * 60_000);
    const share = (pred: (w: CameraWalker) => boolean) => many.filter(pred).length / many.length;
    expect(share((w) => w.clothes.upper === "blue")).toBeGreaterThan(0.15);
    expect(share((w) => w.clothes.upper === "blue")).toBeLessThan(0.2);
    expect(share((w) => w.clothes.lower === "blue")).toBeGreaterThan(0.25);
    expect(new Set(many.map((w) => w.clothes.upper)).size).toBe(12);
    expect(new Set(many.map((w) => w.clothes.shoes)).size).toBeGreaterThanOrEqual(8);
    const h = many.map((w) => w.heightM);
    expect(Math.min(...h)).toBeGreaterThanOrEqual(1.58);
    expect(Math.max(...h)).toBeLessThanOrEqual(1.92);
  });

  it("arrive over the run and all leave before its end when they arrive early enough", () => {
    const early = run(3, 100, 40 * 60_000, 10 * 60_000);
    expect(early.every((w) => w.leaveTs < T0 + 40 * 60_000)).toBe(true);
    const arrivals = walkers.map((w) => w.enterTs);
    expect(Math.min(...arrivals)).toBeLessThan(T0 + 60_000);
    expect(Math.max(...arrivals)).toBeGreaterThan(T0 + 14 * 60_000);
  });

  it("the cursor gives the same positions as the search", () => {
    const cursor = new WalkerCursor(walkers);
    for (let t = T0; t < T0 + 15 * 60_000; t += 777) {
      for (let i = 0; i < walkers.length; i += 7) expect(cursor.at(i, t)).toEqual(walkerPosition(walkers[i]!, t));
    }
  });
});

describe("camera ground truth of persons", () => {
  const end = T0 + 15 * 60_000;
  const truth = new CameraTruth(plan, walkers, T0, end);

  it("records every person who came in during the run, with clothes, and leave ts only for those who left", () => {
    expect(truth.persons.length).toBe(walkers.length);
    for (const p of truth.persons) {
      const w = walkers.find((x) => x.id === p.id)!;
      expect([p.upper, p.lower, p.shoes]).toEqual([w.clothes.upper, w.clothes.lower, w.clothes.shoes]);
      expect(p.leaveTs === null).toBe(w.leaveTs >= end);
    }
    expect(truth.persons.some((p) => p.leaveTs === null)).toBe(true);
  });

  it("distance walked is the length of the path during the run, and the path stays in the run", () => {
    for (const p of truth.persons) {
      let len = 0;
      for (let i = 1; i < p.path.length; i++) len += Math.hypot(p.path[i]![1] - p.path[i - 1]![1], p.path[i]![2] - p.path[i - 1]![2]);
      expect(p.distanceM).toBeCloseTo(len, 6);
      expect(p.path.every(([t]) => t >= p.enterTs && t <= end)).toBe(true);
      if (p.leaveTs === null) {
        const at = walkerPosition(walkers.find((w) => w.id === p.id)!, end)!;
        const last = p.path[p.path.length - 1]!;
        expect(Math.hypot(last[1] - at.x, last[2] - at.y)).toBeLessThan(1e-6);
      }
    }
    const mean = truth.persons.reduce((s, p) => s + p.distanceM, 0) / truth.persons.length;
    expect(mean).toBeGreaterThan(60);
    expect(mean).toBeLessThan(400);
  });

  it("visits and zoneCountAt agree with where people are", () => {
    for (let t = T0 + 5_000; t < end; t += 29_000) {
      const counts = new Map<string, number>();
      for (const w of walkers) {
        const p = walkerPosition(w, t);
        if (p) counts.set(p.space, (counts.get(p.space) ?? 0) + 1);
      }
      for (const s of plan.spaces) expect(truth.zoneCountAt(s.id, t), `${s.id} at ${t}`).toBe(counts.get(s.id) ?? 0);
    }
    for (const p of truth.persons) {
      for (const [sp, enter, leave] of p.visits) {
        const mid = (enter + leave) / 2;
        expect(truth.positionAt(p.id, mid)!.space).toBe(sp);
      }
      expect(p.visits[0]![0]).toMatch(/entrance/);
    }
  });

  it("counts an entrance's line +1 for everybody coming in that way and -1 for everybody leaving that way", () => {
    const line = plan.cameras.flatMap((c) => c.lines).find((l) => l.id === "west-in")!;
    const crossings = truth.lineCrossings(line);
    const cameIn = walkers.filter((w) => w.doors[0]!.doorway === "west-doors" && w.enterTs < end - 10_000).length;
    const wentOut = walkers.filter((w) => w.doors[w.doors.length - 1]!.doorway === "west-doors" && w.leaveTs < end).length;
    expect(cameIn).toBeGreaterThan(10);
    // people crossing within the last seconds may be either side of the line at the end: 10 s margin above
    expect(crossings.filter((c) => c.dir === 1).length).toBeGreaterThanOrEqual(cameIn);
    expect(crossings.filter((c) => c.dir === 1).length).toBeLessThanOrEqual(walkers.filter((w) => w.doors[0]!.doorway === "west-doors").length);
    expect(crossings.filter((c) => c.dir === -1).length).toBe(wentOut);
  });

  it("counts a shop door's line +1 for walking into the shop and -1 for walking out", () => {
    for (const id of ["shop-a-in", "shop-c-in", "shop-f-in"]) {
      const shop = id.slice(0, -"-in".length);
      const line = plan.cameras.flatMap((c) => c.lines).find((l) => l.id === id)!;
      const crossings = truth.lineCrossings(line);
      const entries = walkers.flatMap((w) => w.doors).filter((d) => d.to === shop && d.ts < end - 10_000).length;
      const exits = walkers.flatMap((w) => w.doors).filter((d) => d.from === shop && d.ts < end - 10_000).length;
      expect(entries, id).toBeGreaterThan(5);
      // a walk from the door to a point far to the side may pass beside the 4 m line: most, not all, cross it
      expect(crossings.filter((c) => c.dir === 1).length, id).toBeGreaterThanOrEqual(Math.floor(entries * 0.8));
      expect(crossings.filter((c) => c.dir === 1).length, id).toBeLessThanOrEqual(entries + 1);
      expect(crossings.filter((c) => c.dir === -1).length, id).toBeGreaterThanOrEqual(Math.floor(exits * 0.8));
    }
  });
});
