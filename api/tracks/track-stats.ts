/**
 * Summary statistics of the /stats queries. Percentiles interpolate linearly between the
 * closest ranks (the "R-7" definition, numpy's and spreadsheets' default): p of sorted values
 * v[0..n-1] is v[h] at rank h = p (n - 1), interpolated when h is fractional; the median is p50.
 */

export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface Summary { count: number; mean: number | null; median: number | null; p90: number | null; min: number | null; max: number | null }

/** count, mean, median, p90, min and max of the values (null when there are none). Sorts `values` in place. */
export function summarize(values: Float64Array | number[]): Summary {
  const v = values instanceof Float64Array ? values : Float64Array.from(values);
  v.sort();
  const n = v.length;
  if (n === 0) return { count: 0, mean: null, median: null, p90: null, min: null, max: null };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += v[i]!;
  return { count: n, mean: sum / n, median: percentile(v, 0.5), p90: percentile(v, 0.9), min: v[0]!, max: v[n - 1]! };
}

/** Rounds for answers (metres to mm, seconds to ms): keeps JSON short without changing figures that matter. */
export const round3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);

/** A growable list of numbers without per-element boxing. */
export class NumberList {
  private buf = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = x;
  }
  values(): Float64Array { return this.buf.subarray(0, this.length); }
}
