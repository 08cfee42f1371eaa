import type { InfluxDB } from "influx";
import { escape } from "influx";
import { summarizeDays, type DayStats } from "./daily-stats.ts";
import { rollupOf, RP, type RetentionPolicy } from "../../contracts/influx-layout.ts";
import { MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import { DAY_MS, type DayRange, type SeriesRange } from "../http/time-range.ts";

/**
 * Reads the occupancy actors' series from InfluxDB (InfluxQL):
 *   raw.occupancy       tags site, space; field count: one point per instant the count changed
 *   raw.site_occupancy  tag site; field count
 * The count at t is the last point with time <= t (a step function); no point yet means 0.
 * When raw holds nothing up to t (older than its retention, or no change since), the hourly
 * rollups (rollup.<measurement>_1h, field "last") answer from the last full hour before t.
 */
export type CountSeries =
  | { measurement: typeof MEASUREMENT_OCCUPANCY; site: string; space: string }
  | { measurement: typeof MEASUREMENT_SITE_OCCUPANCY; site: string };

export interface SeriesPoint { t: number; count: number }

const HOUR_MS = 3_600_000;
/** InfluxDB's time range is 1677..2262; our data lives from 2000 on. */
const QUERY_MIN_MS = 0;
const QUERY_MAX_MS = Date.UTC(2262, 0, 1);
/** Days fetched per InfluxDB request by daily(). */
const DAYS_PER_QUERY = 7;

const lit = (ms: number) => `${Math.trunc(Math.min(QUERY_MAX_MS, Math.max(QUERY_MIN_MS, ms)))}ms`;
const countOf = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.max(0, Math.round(v)) : undefined);

export class OccupancyReader {
  constructor(private readonly influx: InfluxDB, private readonly database: string) {}

  private from(s: CountSeries, rp: RetentionPolicy): string {
    const m = rp === RP.raw ? s.measurement : rollupOf(s.measurement);
    return `${escape.quoted(this.database)}.${escape.quoted(rp)}.${escape.quoted(m)}`;
  }

  private where(s: CountSeries): string {
    const site = `${escape.quoted("site")} = ${escape.stringLit(s.site)}`;
    return s.measurement === MEASUREMENT_OCCUPANCY ? `${site} AND ${escape.quoted("space")} = ${escape.stringLit(s.space)}` : site;
  }

  /** The count holding at instant t. */
  async countAt(s: CountSeries, t: number): Promise<number> {
    if (t < QUERY_MIN_MS) return 0;
    const [raw, rollup] = await this.influx.query<{ count: unknown }>([
      `SELECT last("count") AS "count" FROM ${this.from(s, RP.raw)} WHERE ${this.where(s)} AND time <= ${lit(t)}`,
      `SELECT last("last") AS "count" FROM ${this.from(s, RP.rollup)} WHERE ${this.where(s)} AND time <= ${lit(t - HOUR_MS)}`,
    ], { database: this.database });
    return countOf(raw?.[0]?.count) ?? countOf(rollup?.[0]?.count) ?? 0;
  }

  /**
   * The count holding at each boundary from, from+step, ... <= to. Boundary b_k (k >= 1) takes
   * the last point in (b_{k-1}, b_k]: GROUP BY time(step) with buckets shifted to start 1 ms
   * after each boundary, so a point exactly at a boundary counts there, as countAt would.
   * Empty buckets (fill(none)) carry the previous value; b_0 is the count carried in at `from`.
   */
  async series(s: CountSeries, r: SeriesRange): Promise<SeriesPoint[]> {
    const carry = await this.countAt(s, r.from);
    const out: SeriesPoint[] = [{ t: r.from, count: carry }];
    if (r.points === 1) return out;
    const offset = (((r.from + 1) % r.step) + r.step) % r.step;
    const last = r.from + (r.points - 1) * r.step;
    const rows = await this.influx.query<{ count: unknown }>(
      `SELECT last("count") AS "count" FROM ${this.from(s, RP.raw)} WHERE ${this.where(s)} ` +
      `AND time >= ${lit(r.from + 1)} AND time <= ${lit(last)} GROUP BY time(${r.step}ms, ${offset}ms) fill(none)`,
      { database: this.database },
    );
    const byBucket = new Map<number, number>();
    for (const row of rows) {
      const c = countOf(row.count);
      if (c !== undefined) byBucket.set(row.time.getTime(), c);
    }
    let current = carry;
    for (let k = 1; k < r.points; k++) {
      const boundary = r.from + k * r.step;
      current = byBucket.get(boundary - r.step + 1) ?? current;
      out.push({ t: boundary, count: current });
    }
    return out;
  }

  /** Peak and time-weighted average per UTC day, up to `now`. */
  async daily(s: CountSeries, r: DayRange, now: number): Promise<DayStats[]> {
    let carry = await this.countAt(s, r.firstDay - 1);
    const days: DayStats[] = [];
    const lastDay = Math.min(r.lastDay, Math.floor(now / DAY_MS) * DAY_MS);
    for (let batch = r.firstDay; batch <= lastDay; batch += DAYS_PER_QUERY * DAY_MS) {
      const starts: number[] = [];
      for (let d = batch; d <= lastDay && starts.length < DAYS_PER_QUERY; d += DAY_MS) starts.push(d);
      const end = starts[starts.length - 1]! + DAY_MS;
      const rows = await this.influx.query<{ count: unknown }>(
        `SELECT "count" FROM ${this.from(s, RP.raw)} WHERE ${this.where(s)} AND time >= ${lit(batch)} AND time < ${lit(end)}`,
        { database: this.database },
      );
      const points: Array<[number, number]> = [];
      for (const row of rows) {
        const c = countOf(row.count);
        if (c !== undefined) points.push([row.time.getTime(), c]);
      }
      points.sort((a, b) => a[0] - b[0]);
      const summary = summarizeDays(carry, points, starts, now);
      days.push(...summary.days);
      carry = summary.carry;
    }
    return days;
  }
}
