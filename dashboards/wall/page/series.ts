/**
 * Occupancy over time (pure): a step function of counts, (t ms, count) in time order, kept over
 * a rolling window, sampled on a regular grid for the chart and the sparklines.
 */
export type StepPoint = [t: number, count: number];

export class StepSeries {
  private pts: StepPoint[] = [];
  constructor(private readonly windowMs: number) {}

  /** Replaces everything (a REST series). */
  replace(points: ReadonlyArray<{ t: number; count: number }>): void {
    this.pts = points.map((p) => [p.t, p.count] as StepPoint).sort((a, b) => a[0] - b[0]);
  }

  /** The count from t on (a late point is put where it belongs; the same t replaces). */
  set(t: number, count: number): void {
    const last = this.pts[this.pts.length - 1];
    if (!last || t > last[0]) { this.pts.push([t, count]); return; }
    let i = this.pts.length - 1;
    while (i >= 0 && this.pts[i]![0] > t) i--;
    if (i >= 0 && this.pts[i]![0] === t) this.pts[i]![1] = count;
    else this.pts.splice(i + 1, 0, [t, count]);
  }

  /** Drops what is older than now - window, keeping the point that holds at the window's start. */
  prune(now: number): void {
    const from = now - this.windowMs;
    let keep = 0;
    while (keep + 1 < this.pts.length && this.pts[keep + 1]![0] <= from) keep++;
    if (keep > 0) this.pts.splice(0, keep);
  }

  /** The count holding at t (the last point at or before it), null before the first point. */
  valueAt(t: number): number | null {
    let lo = 0, hi = this.pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pts[mid]![0] <= t) lo = mid + 1; else hi = mid;
    }
    return lo === 0 ? null : this.pts[lo - 1]![1];
  }

  /** Values at from, from + step, ... <= to. */
  sample(from: number, to: number, stepMs: number): Array<number | null> {
    const out: Array<number | null> = [];
    for (let t = from; t <= to; t += stepMs) out.push(this.valueAt(t));
    return out;
  }

  get length(): number {
    return this.pts.length;
  }

  points(): readonly StepPoint[] {
    return this.pts;
  }
}

/** Sums step series point-wise on a grid (null where none of them has a value yet). */
export function sumSamples(samples: ReadonlyArray<ReadonlyArray<number | null>>): Array<number | null> {
  const n = Math.max(0, ...samples.map((s) => s.length));
  const out: Array<number | null> = [];
  for (let i = 0; i < n; i++) {
    let sum: number | null = null;
    for (const s of samples) {
      const v = s[i];
      if (v !== null && v !== undefined) sum = (sum ?? 0) + v;
    }
    out.push(sum);
  }
  return out;
}

/** The usual occupancy of an hour: median and p10-p90 over the same weekday of past weeks. */
export interface UsualHour { t: number; median: number; p10: number; p90: number }

/** The usual of the hour holding t (hours start at their t and last an hour), undefined when not known. */
export function usualAt(hours: readonly UsualHour[], t: number): UsualHour | undefined {
  for (let i = hours.length - 1; i >= 0; i--) {
    const h = hours[i]!;
    if (h.t <= t && t < h.t + 3_600_000) return h;
  }
  return undefined;
}
