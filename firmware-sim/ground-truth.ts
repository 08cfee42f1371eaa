import type { BuildingPlan } from "./building.ts";

/** One true crossing: a walker went through a doorway at ts (epoch ms, true time). */
export interface SimCrossing {
  device: string;
  doorway: string;
  ts: number;
  delta: 1 | -1;
  walker: string;
  from: string;
  to: string;
}

/** [ts, count after every move at ts] in time order */
type Timeline = Array<[number, number]>;

/** Count holding at ts: the last point at or before ts, 0 before the first. */
function countOn(timeline: Timeline, ts: number): number {
  let lo = 0;
  let hi = timeline.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timeline[mid]![0] <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : timeline[lo - 1]![1];
}

/**
 * What really happened in a simulated run: people per space and in the whole site at any
 * instant, counting every move whose true ts is at or before that instant.
 */
export class GroundTruth {
  private readonly spaces = new Map<string, Timeline>();
  private readonly site: Timeline = [];
  /** sorted, distinct true instants of all crossings */
  private readonly instants: number[];

  constructor(readonly plan: BuildingPlan, readonly crossings: readonly SimCrossing[], readonly startTs: number, readonly endTs: number) {
    const counts = new Map<string, number>();
    for (const s of plan.spaces) { this.spaces.set(s.id, []); counts.set(s.id, 0); }
    let inside = 0;
    const sorted = [...crossings].sort((a, b) => a.ts - b.ts);
    const step = (timeline: Timeline, ts: number, count: number) => {
      const lastPoint = timeline[timeline.length - 1];
      if (lastPoint && lastPoint[0] === ts) lastPoint[1] = count;
      else timeline.push([ts, count]);
    };
    for (const c of sorted) {
      for (const [space, d] of [[c.from, -1], [c.to, 1]] as const) {
        const timeline = this.spaces.get(space);
        if (!timeline) continue; // outside
        const n = counts.get(space)! + d;
        counts.set(space, n);
        step(timeline, c.ts, n);
      }
      const fromInside = this.spaces.has(c.from);
      const toInside = this.spaces.has(c.to);
      if (fromInside !== toInside) {
        inside += toInside ? 1 : -1;
        step(this.site, c.ts, inside);
      }
    }
    this.instants = [...new Set(sorted.map((c) => c.ts))];
  }

  /** People in a space at ts (every move with ts <= the instant counted). */
  countAt(space: string, ts: number): number {
    const timeline = this.spaces.get(space);
    if (!timeline) throw new RangeError(`unknown space "${space}" (outside has no count)`);
    return countOn(timeline, ts);
  }

  /** People anywhere inside the site at ts. */
  siteCountAt(ts: number): number {
    return countOn(this.site, ts);
  }

  /** Every space's count at ts. */
  countsAt(ts: number): Record<string, number> {
    return Object.fromEntries([...this.spaces.keys()].map((s) => [s, this.countAt(s, ts)]));
  }

  /** Where a walker is at ts: a space id, "outside", or undefined before the walker arrived. */
  whereIs(walker: string, ts: number): string | undefined {
    let where: string | undefined;
    for (const c of this.crossings) if (c.walker === walker && c.ts <= ts) where = c.to;
    return where;
  }

  /**
   * n distinct instants in [startTs, endTs], spread over the run (each as near as possible to
   * an even grid), every one MORE than avoidWithinMs away from every crossing: a device clock
   * skew of at most avoidWithinMs cannot move a crossing across a sampled instant.
   * Throws when the run has too few such instants.
   */
  sampleTimes(n: number, opts: { avoidWithinMs: number }): number[] {
    const avoid = Math.max(0, Math.floor(opts.avoidWithinMs));
    if (!Number.isInteger(n) || n < 0) throw new RangeError("n must be a non-negative integer");
    // integer instants allowed, as closed intervals [lo, hi]
    const free: Array<[number, number]> = [];
    let lo = this.startTs;
    for (const c of this.instants) {
      const hi = Math.min(c - avoid - 1, this.endTs);
      if (hi >= lo) free.push([lo, hi]);
      lo = Math.max(lo, c + avoid + 1);
    }
    if (this.endTs >= lo) free.push([lo, this.endTs]);

    const firstFreeAtOrAfter = (t: number): number | undefined => {
      for (const [a, b] of free) if (b >= t) return Math.max(a, t);
      return undefined;
    };
    const nearestFree = (t: number): number | undefined => {
      let best: number | undefined;
      for (const [a, b] of free) {
        const p = Math.min(Math.max(t, a), b);
        if (best === undefined || Math.abs(p - t) < Math.abs(best - t)) best = p;
      }
      return best;
    };
    const span = this.endTs - this.startTs;
    const out: number[] = [];
    for (let k = 0; k < n; k++) {
      const target = Math.round(this.startTs + ((k + 0.5) * span) / n);
      let t = nearestFree(target);
      const prev = out[out.length - 1];
      if (t !== undefined && prev !== undefined && t <= prev) t = firstFreeAtOrAfter(prev + 1);
      if (t === undefined) {
        throw new RangeError(`only ${out.length} of ${n} instants are more than ${avoid} ms away from every crossing`);
      }
      out.push(t);
    }
    return out;
  }
}
