import { DAY_MS, isoDate } from "../http/time-range.ts";

export interface DayStats { date: string; peak: number; average: number }

/**
 * Daily peak and time-weighted average of a step function (the count holds from each point
 * until the next). `carry` is the count holding when the first day starts, `points` the
 * [time, count] changes in time order, `dayStarts` consecutive UTC midnights. Days are measured
 * up to `until` (now): a day that has not begun is left out, today is averaged over its elapsed
 * part. The peak includes the count carried into the day.
 * Returns the days and the count holding after the last one (the next batch's carry).
 */
export function summarizeDays(
  carry: number,
  points: ReadonlyArray<readonly [number, number]>,
  dayStarts: readonly number[],
  until: number,
): { days: DayStats[]; carry: number } {
  const days: DayStats[] = [];
  let current = carry;
  let i = 0;
  for (const start of dayStarts) {
    const end = start + DAY_MS;
    const measuredEnd = Math.min(end, until);
    // the count at the day's first instant: a point exactly at midnight opens the day
    while (i < points.length && points[i]![0] <= start) current = points[i++]![1];
    let held = current;
    let peak = current;
    let weighted = 0;
    let since = start;
    for (; i < points.length && points[i]![0] < end; i++) {
      const [t, v] = points[i]!;
      current = v;
      if (t >= measuredEnd) continue;
      weighted += held * (t - since);
      since = t;
      held = v;
      if (v > peak) peak = v;
    }
    if (measuredEnd <= start) continue;
    weighted += held * (measuredEnd - since);
    days.push({ date: isoDate(start), peak, average: weighted / (measuredEnd - start) });
  }
  return { days, carry: current };
}
