import type { InfluxDB } from "influx";
import { escape } from "influx";
import { OUTSIDE } from "../../contracts/ids.ts";
import { rollupOf, RP } from "../../contracts/influx-layout.ts";
import { MEASUREMENT_CROSSINGS, MEASUREMENT_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import type { DoorwayDef } from "../../contracts/topology.ts";
import type { CountSeries } from "./occupancy-reader.ts";
import { HOUR_MS, USUAL_WEEKS, WEEK_MS, usualBand, type RollupRow, type UsualHour } from "./usual-band.ts";

/**
 * What a wall shows beside the live counts, read from InfluxDB:
 *   usual()  the usual band per hour (usual-band.ts) from the hourly rollups
 *            (rollup.occupancy_1h / rollup.site_occupancy_1h, fields mean and last);
 *   flow()   people entering and leaving the site and each space, from the raw crossing points
 *            (raw.crossings, tags site, doorway; field delta +1 / −1) and the site's doorways.
 */

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const lit = (ms: number) => `${Math.trunc(ms)}ms`;

export interface FlowCounts { in: number; out: number }
export interface Flow extends FlowCounts { spaces: Array<{ space: string } & FlowCounts> }

export class SiteFigures {
  constructor(private readonly influx: InfluxDB, private readonly database: string) {}

  private where(s: CountSeries): string {
    const site = `${escape.quoted("site")} = ${escape.stringLit(s.site)}`;
    return s.measurement === MEASUREMENT_OCCUPANCY ? `${site} AND ${escape.quoted("space")} = ${escape.stringLit(s.space)}` : site;
  }

  /** The usual band for the hour starts `hours` (ascending, not empty). */
  async usual(s: CountSeries, hours: readonly number[]): Promise<{ weeks: number; hours: UsualHour[] }> {
    const from = `${escape.quoted(this.database)}.${escape.quoted(RP.rollup)}.${escape.quoted(rollupOf(s.measurement))}`;
    const first = hours[0]! - USUAL_WEEKS * WEEK_MS;
    const end = hours[hours.length - 1]! - WEEK_MS + HOUR_MS;
    const [rows, before] = await this.influx.query<{ mean: unknown; last: unknown }>([
      `SELECT "mean", "last" FROM ${from} WHERE ${this.where(s)} AND time >= ${lit(first)} AND time < ${lit(end)}`,
      `SELECT last("last") AS "last" FROM ${from} WHERE ${this.where(s)} AND time < ${lit(first)}`,
    ], { database: this.database });
    const series: RollupRow[] = (rows ?? []).map((r) => ({ t: r.time.getTime(), mean: num(r.mean), last: num(r.last) }));
    series.sort((a, b) => a.t - b.t);
    return usualBand(hours, series, num(before?.[0]?.last));
  }

  /**
   * People who went in and out in [from, to): through each of the site's doorways, +1 crossings
   * moved someone from `exiting_to` into `entering_to`, −1 crossings the other way. The site's
   * in / out are the moves from / to outside. Crossings of doorways no longer in the topology are
   * left out.
   */
  async flow(site: string, doorways: readonly DoorwayDef[], spaces: readonly string[], from: number, to: number): Promise<Flow> {
    const rows = await this.influx.query<{ n: unknown; net: unknown; doorway: string }>(
      `SELECT count("delta") AS "n", sum("delta") AS "net" FROM ${escape.quoted(this.database)}.${escape.quoted(RP.raw)}.${escape.quoted(MEASUREMENT_CROSSINGS)} ` +
      `WHERE ${escape.quoted("site")} = ${escape.stringLit(site)} AND time >= ${lit(from)} AND time < ${lit(to)} GROUP BY ${escape.quoted("doorway")}`,
      { database: this.database },
    );
    const byDoorway = new Map<string, { forward: number; back: number }>();
    for (const r of rows) {
      const n = num(r.n) ?? 0, net = num(r.net) ?? 0;
      byDoorway.set(r.doorway, { forward: (n + net) / 2, back: (n - net) / 2 });
    }
    const total: FlowCounts = { in: 0, out: 0 };
    const per = new Map<string, FlowCounts>(spaces.map((s) => [s, { in: 0, out: 0 }]));
    const move = (fromSpace: string, toSpace: string, people: number) => {
      if (people === 0 || fromSpace === toSpace) return;
      if (fromSpace === OUTSIDE) total.in += people;
      else if (per.has(fromSpace)) per.get(fromSpace)!.out += people;
      if (toSpace === OUTSIDE) total.out += people;
      else if (per.has(toSpace)) per.get(toSpace)!.in += people;
    };
    for (const d of doorways) {
      const c = byDoorway.get(d.id);
      if (!c) continue;
      move(d.exiting_to, d.entering_to, c.forward);
      move(d.entering_to, d.exiting_to, c.back);
    }
    return { ...total, spaces: [...per].map(([space, c]) => ({ space, ...c })) };
  }
}
