import { z } from "zod";
import { decodeTimes, encodeTimes } from "./key-columns.ts";
import { lowerBound, upperBound } from "./sorted-search.ts";
import type { CountsTail } from "./timeline.ts";

export const StepSeriesSnapshot = z.strictObject({
  b: z.number().int().nonnegative(),
  t: z.array(z.number().int()),
  c: z.array(z.number().int().nonnegative()),
  /** version of each point and of the base (see merge) */
  v: z.array(z.number().int().nonnegative()).optional(),
  bv: z.number().int().nonnegative().optional(),
  bf: z.number().int().nullable().optional(),
});
export type StepSeriesSnapshot = z.infer<typeof StepSeriesSnapshot>;

/**
 * A step function known as points [ts, value] (ascending ts; the value holds from ts until the
 * next point) and `base`, the value before the first point. The site actor keeps one per space,
 * fed with the space's recomputed tails. Each point remembers the version of the tail that set
 * it, so tails merged out of order (see `merge`) leave the newest values in place.
 */
export class StepSeries {
  private ts: number[] = [];
  private values: number[] = [];
  private versions: number[] = [];
  private base = 0;
  private baseVersion = 0;
  /** the instant `base` was stated for (it holds before this); +Infinity while nothing said so */
  private baseFrom = Number.POSITIVE_INFINITY;

  get size(): number { return this.ts.length; }
  get newest(): number | undefined { return this.ts[this.ts.length - 1]; }

  /** The value holding at instant t. */
  valueAt(t: number): number {
    const i = upperBound(this.ts, t);
    return i > 0 ? this.values[i - 1]! : this.base;
  }

  /** The value after the last point. */
  last(): number {
    const n = this.values.length;
    return n > 0 ? this.values[n - 1]! : this.base;
  }

  /**
   * Merges a tail of version `version`: each point is set unless the series already holds that
   * instant from a newer version; instants the tail does not name are left alone (a space's
   * timeline only ever gains instants, so a point missing from a tail comes from a newer one).
   * `before` (the value just before `from`) becomes `base` when it speaks of an earlier instant
   * than the base did, or of the same instant in a newer version. Order of arrival therefore
   * does not matter: any order of the same tails gives the same series.
   */
  merge(from: number, before: number, points: ReadonlyArray<readonly [number, number]>, version: number): void {
    if (from < this.baseFrom || (from === this.baseFrom && version > this.baseVersion)) {
      this.base = before;
      this.baseVersion = version;
      this.baseFrom = from;
    }
    let i = 0;
    for (const [t, v] of points) {
      i = lowerBound(this.ts, t, i);
      if (this.ts[i] === t) {
        if (this.versions[i]! < version) { this.values[i] = v; this.versions[i] = version; }
      } else if (i === this.ts.length) {
        this.ts.push(t); this.values.push(v); this.versions.push(version);
      } else {
        this.ts.splice(i, 0, t); this.values.splice(i, 0, v); this.versions.splice(i, 0, version);
      }
    }
  }

  /** Drops the points before `cutoff`, keeping their effect in `base`. Returns how many. */
  foldBefore(cutoff: number): number {
    const k = lowerBound(this.ts, cutoff);
    if (k === 0) return 0;
    this.base = this.values[k - 1]!;
    this.baseVersion = Math.max(this.baseVersion, this.versions[k - 1]!);
    this.baseFrom = cutoff;
    this.ts.splice(0, k);
    this.values.splice(0, k);
    this.versions.splice(0, k);
    return k;
  }

  /** Points with ts < cutoff (what foldBefore(cutoff) would drop). */
  countBefore(cutoff: number): number {
    return lowerBound(this.ts, cutoff);
  }

  /** Index of the first point >= from, and the value just before it. */
  startAt(from: number): { index: number; before: number } {
    const index = lowerBound(this.ts, from);
    return { index, before: index > 0 ? this.values[index - 1]! : this.base };
  }

  pointAt(index: number): [number, number] | undefined {
    const t = this.ts[index];
    return t === undefined ? undefined : [t, this.values[index]!];
  }

  encode(): StepSeriesSnapshot {
    return { b: this.base, t: encodeTimes(this.ts), c: this.values.slice(), v: this.versions.slice(), bv: this.baseVersion, bf: Number.isFinite(this.baseFrom) ? this.baseFrom : null };
  }

  static decode(raw: unknown): StepSeries {
    const s = StepSeriesSnapshot.parse(raw);
    if (s.t.length !== s.c.length) throw new Error("step series snapshot columns of different lengths");
    const out = new StepSeries();
    out.base = s.b;
    out.ts = decodeTimes(s.t);
    out.values = s.c;
    out.versions = s.v ?? s.c.map(() => 0);
    out.baseVersion = s.bv ?? 0;
    out.baseFrom = s.bf ?? Number.POSITIVE_INFINITY;
    if (out.versions.length !== out.ts.length) throw new Error("step series snapshot columns of different lengths");
    return out;
  }
}

/**
 * The sum of several step functions from `from` on: its value just before `from`, and
 * [ts, sum] at every distinct ts >= from at which any series has a point.
 */
export function sumFrom(series: readonly StepSeries[], from: number): CountsTail {
  const current: number[] = new Array(series.length);
  let sum = 0;
  // flat (series, index) pairs of every point >= from
  const owners: number[] = [];
  const indexes: number[] = [];
  for (let s = 0; s < series.length; s++) {
    const one = series[s]!;
    const { index, before } = one.startAt(from);
    current[s] = before;
    sum += before;
    for (let i = index; i < one.size; i++) { owners.push(s); indexes.push(i); }
  }
  const before = sum;
  const order = owners.map((_, n) => n);
  const tsOf = (n: number) => series[owners[n]!]!.pointAt(indexes[n]!)![0];
  const times = order.map(tsOf);
  order.sort((a, b) => times[a]! - times[b]! || a - b);
  const points: Array<[number, number]> = [];
  for (let j = 0; j < order.length; j++) {
    const n = order[j]!;
    const s = owners[n]!;
    const [t, v] = series[s]!.pointAt(indexes[n]!)!;
    sum += v - current[s]!;
    current[s] = v;
    const next = order[j + 1];
    if (next !== undefined && times[next] === t) continue;
    points.push([t, sum]);
  }
  return { from, before, points };
}
