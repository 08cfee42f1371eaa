import { escape, type InfluxDB } from "influx";
import { RP, rollupOf } from "../../contracts/influx-layout.ts";
import { MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import type { Count } from "./out-messages.ts";

/** A site's current counts as history holds them: per space (a space without any point: never counted). */
export interface SiteCounts { spaces: Map<string, Count>; site: Count | undefined }

/**
 * Where the results look when FF_EVENTS no longer holds a count's last change (events are kept a
 * day): the occupancy series the actors wrote to InfluxDB, the newest raw point, else the newest
 * hourly rollup.
 */
export interface CountHistory {
  siteCounts(site: string): Promise<SiteCounts>;
}

const countOf = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.max(0, Math.round(v)) : undefined);

export class InfluxCountHistory implements CountHistory {
  constructor(private readonly influx: InfluxDB, private readonly database: string) {}

  async siteCounts(site: string): Promise<SiteCounts> {
    const from = (rp: string, m: string) => `${escape.quoted(this.database)}.${escape.quoted(rp)}.${escape.quoted(m)}`;
    const where = `WHERE ${escape.quoted("site")} = ${escape.stringLit(site)}`;
    const [rawSpaces, rollSpaces, rawSite, rollSite] = await this.influx.query<{ space?: string; count: unknown }>([
      `SELECT last("count") AS "count" FROM ${from(RP.raw, MEASUREMENT_OCCUPANCY)} ${where} GROUP BY "space"`,
      `SELECT last("last") AS "count" FROM ${from(RP.rollup, rollupOf(MEASUREMENT_OCCUPANCY))} ${where} GROUP BY "space"`,
      `SELECT last("count") AS "count" FROM ${from(RP.raw, MEASUREMENT_SITE_OCCUPANCY)} ${where}`,
      `SELECT last("last") AS "count" FROM ${from(RP.rollup, rollupOf(MEASUREMENT_SITE_OCCUPANCY))} ${where}`,
    ], { database: this.database });
    const spaces = new Map<string, Count>();
    // raw answers first; the rollup only for spaces raw no longer holds
    for (const rows of [rawSpaces, rollSpaces]) {
      for (const r of rows ?? []) {
        const count = countOf(r.count);
        if (r.space && count !== undefined && !spaces.has(r.space)) spaces.set(r.space, { count, at: r.time.getTime() });
      }
    }
    const siteRow = rawSite?.find((r) => countOf(r.count) !== undefined) ?? rollSite?.find((r) => countOf(r.count) !== undefined);
    return { spaces, site: siteRow ? { count: countOf(siteRow.count)!, at: siteRow.time.getTime() } : undefined };
  }
}
