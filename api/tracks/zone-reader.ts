import { escape, type InfluxDB } from "influx";
import { M } from "../../contracts/track-store.ts";
import { RP } from "../../contracts/influx-layout.ts";
import { msLit } from "./track-reader.ts";

/**
 * Reads the zone actors' series (contracts/track-store.ts):
 *   zone_occupancy  per second: count, camera-based. The zone actor writes a point for every
 *                   second whose count may have changed (dense while people are there, and 0
 *                   where a count was retracted); a second without a point had nobody: count 0.
 *   zone_visit      one point per closed visit (time = enter): person, enter, leave, dwell_s
 *                   (dwell_s 0: a visit retracted by a correction, skipped)
 *   zone_line       per second: in, out per counting line
 */

const SECOND = 1000;
/** Boundaries fetched per InfluxDB request when sampling a long series second by second. */
const SAMPLES_PER_REQUEST = 200;
/** Up to this many seconds in a series are read in one range query instead of sampled. */
const MAX_RANGE_READ_S = 20_000;

const q = escape.quoted;
const int = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.round(v) : 0);
const secondOf = (t: number) => Math.floor(t / SECOND) * SECOND;

export interface LineCount { line: string; space: string; in: number; out: number }

export class ZoneReader {
  constructor(private readonly influx: InfluxDB, private readonly database: string) {}

  private from(m: string): string {
    return `${q(this.database)}.${q(RP.raw)}.${q(m)}`;
  }

  private zone(site: string, space: string): string {
    return `${q("site")} = ${escape.stringLit(site)} AND ${q("space")} = ${escape.stringLit(space)}`;
  }

  /** The camera-based count of the space during the second holding t (0 without a point). */
  async countAt(site: string, space: string, t: number): Promise<number> {
    const s = secondOf(t);
    const rows = await this.influx.query<{ count: unknown }>(
      `SELECT "count" FROM ${this.from(M.zoneOccupancy)} WHERE ${this.zone(site, space)} AND time >= ${msLit(s)} AND time < ${msLit(s + SECOND)}`,
      { database: this.database },
    );
    return int(rows[0]?.count);
  }

  /** The count at each instant of `at` (each the point of its second, else 0). */
  async countsAt(site: string, space: string, at: readonly number[]): Promise<number[]> {
    if (at.length === 0) return [];
    const first = secondOf(Math.min(...at));
    const last = secondOf(Math.max(...at));
    const bySecond = new Map<number, number>();
    if ((last - first) / SECOND <= MAX_RANGE_READ_S) {
      const rows = await this.influx.query<{ count: unknown }>(
        `SELECT "count" FROM ${this.from(M.zoneOccupancy)} WHERE ${this.zone(site, space)} AND time >= ${msLit(first)} AND time < ${msLit(last + SECOND)}`,
        { database: this.database },
      );
      for (const r of rows) bySecond.set(secondOf(r.time.getTime()), int(r.count));
    } else {
      // a long range: one narrow query per sampled second, many per request (InfluxQL has no OR on time)
      const seconds = [...new Set(at.map(secondOf))];
      for (let i = 0; i < seconds.length; i += SAMPLES_PER_REQUEST) {
        const batch = seconds.slice(i, i + SAMPLES_PER_REQUEST);
        const results = await this.influx.query<{ count: unknown }>(batch.map((s) =>
          `SELECT "count" FROM ${this.from(M.zoneOccupancy)} WHERE ${this.zone(site, space)} AND time >= ${msLit(s)} AND time < ${msLit(s + SECOND)}`),
        { database: this.database });
        for (const rows of results) {
          for (const r of rows) bySecond.set(secondOf(r.time.getTime()), int(r.count));
        }
      }
    }
    return at.map((t) => bySecond.get(secondOf(t)) ?? 0);
  }

  /** dwell_s of the visits to a space that entered within [from, to]. */
  async dwells(site: string, space: string, from: number, to: number): Promise<number[]> {
    const rows = await this.influx.query<{ dwell_s: unknown }>(
      `SELECT "dwell_s" FROM ${this.from(M.zoneVisit)} WHERE ${this.zone(site, space)} AND "dwell_s" > 0 AND time >= ${msLit(from)} AND time < ${msLit(to + 1)}`,
      { database: this.database },
    );
    // a visit the zone actor retracted (it disappeared or moved after a correction) is rewritten with dwell_s 0
    const out: number[] = [];
    for (const r of rows) if (typeof r.dwell_s === "number" && Number.isFinite(r.dwell_s) && r.dwell_s > 0) out.push(r.dwell_s);
    return out;
  }

  /** In and out counts per counting line of a site within [from, to]. */
  async lines(site: string, from: number, to: number): Promise<LineCount[]> {
    const rows = await this.influx.query<{ in: unknown; out: unknown; line: string; space: string }>(
      `SELECT sum("in") AS "in", sum("out") AS "out" FROM ${this.from(M.zoneLine)} WHERE ${q("site")} = ${escape.stringLit(site)} ` +
      `AND time >= ${msLit(from)} AND time < ${msLit(to + 1)} GROUP BY ${q("line")}, ${q("space")}`,
      { database: this.database },
    );
    return rows.map((r) => ({ line: r.line, space: r.space, in: int(r.in), out: int(r.out) }));
  }
}
