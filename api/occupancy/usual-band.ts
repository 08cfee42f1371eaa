/**
 * "The usual" for an hour: the occupancy of the same UTC weekday and hour in each of the last
 * USUAL_WEEKS weeks (the hour exactly 1, 2, 3, 4 weeks before), summarised as median, p10 and
 * p90, from the hourly rollups.
 *
 * The value of a past hour is the rollup's `mean` for that hour: the mean of the counts recorded
 * in it. That is what a live count is compared with: a count read at some moment of the hour is
 * on average the hour's mean, while the peak would lie above almost every live reading. An hour
 * with no rollup row had no change: the count held all hour was the `last` of the latest row
 * before it. An hour before the series' first row has no history and is left out (the series
 * had not begun), so a site with three weeks of data uses three weeks.
 *
 * Percentiles interpolate linearly between the sorted values (value at rank p·(n−1)): with four
 * weeks, the median is the mean of the middle two, p10 lies 0.3 of the way from the lowest to
 * the second, p90 0.7 of the way from the third to the highest.
 */
export const HOUR_MS = 3_600_000;
export const WEEK_MS = 7 * 24 * HOUR_MS;
export const USUAL_WEEKS = 4;

/** One rollup row: hour start (epoch ms), its mean and last count. */
export interface RollupRow { t: number; mean: number | undefined; last: number | undefined }

export interface UsualHour {
  /** hour start (epoch ms) */
  t: number;
  median: number;
  p10: number;
  p90: number;
  /** how many of the past weeks had history at that hour */
  weeks: number;
}

/** Value at rank p·(n−1) of ascending `sorted` (n ≥ 1), interpolated linearly. */
export function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * The usual band for each hour start in `hours` (ascending). `rows`: the rollup rows from
 * hours[0] − USUAL_WEEKS weeks up to the last hour one week back, ascending; `carry`: the `last`
 * of the latest row before them (undefined: the series has no earlier row).
 * Returns the hours with history and how many past weeks contributed to at least one.
 */
export function usualBand(hours: readonly number[], rows: readonly RollupRow[], carry: number | undefined): { weeks: number; hours: UsualHour[] } {
  const byHour = new Map(rows.map((r) => [r.t, r]));
  const starts = rows.map((r) => r.t);
  /** the count of the hour starting at t, or undefined before the series began */
  const valueAt = (t: number): number | undefined => {
    const own = byHour.get(t);
    if (own && (own.mean ?? own.last) !== undefined) return own.mean ?? own.last;
    // the latest row before t (binary search over the ascending starts)
    let lo = 0, hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const last = rows[i]!.last;
      if (last !== undefined) return last;
    }
    return carry;
  };
  const used = new Set<number>();
  const out: UsualHour[] = [];
  for (const h of hours) {
    const values: number[] = [];
    for (let k = 1; k <= USUAL_WEEKS; k++) {
      const v = valueAt(h - k * WEEK_MS);
      if (v === undefined) continue;
      values.push(v);
      used.add(k);
    }
    if (values.length === 0) continue;
    values.sort((a, b) => a - b);
    out.push({ t: h, median: quantile(values, 0.5), p10: quantile(values, 0.1), p90: quantile(values, 0.9), weeks: values.length });
  }
  return { weeks: used.size, hours: out };
}
