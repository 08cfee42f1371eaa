import { escape, type InfluxDB, type INanoDate } from "influx";
import { M } from "../../contracts/track-store.ts";
import { matchesAttrs, type PersonField, type PersonRow } from "./person-record.ts";
import { RP } from "../../contracts/influx-layout.ts";
import type { Order, TrackFilter } from "./track-filters.ts";

/**
 * Reads person tracks (the `person` measurement, one point per track, time = the track's start)
 * matching a TrackFilter: persons whose track [start, end] overlaps [from, to].
 *
 * All persons of a site form one series, so a scan pages by point time (ORDER BY time, LIMIT,
 * then continues after the last point's nanosecond time). Tracks last at most a few hours, so a
 * scan looks back `maxTrackMs` before `from` and keeps tracks with end >= from; a track longer
 * than that which started before from - maxTrackMs is not found.
 *
 * Filters run in InfluxQL where they are cheap: time, end >= from, upper/lower value and
 * confidence (own fields), zone (regex on the "|a|b|" spaces field), and a regex prefilter on
 * the attrs JSON for other attributes; the exact attribute check (value and confidence) runs
 * here on each row.
 */

export const DEFAULT_MAX_TRACK_MS = 6 * 3_600_000;

export interface PersonScan {
  filter: TrackFilter;
  /** fields to read besides person, start, end (and what the filters need) */
  fields: readonly PersonField[];
  order: Order;
  /** continue after this point time (ns digits, exclusive) */
  afterNs?: string;
  /** rows per InfluxDB request */
  batch: number;
}

/** InfluxDB's time range is 1677..2262. */
const QUERY_MIN_MS = -9.2e12;
const QUERY_MAX_MS = Date.UTC(2262, 0, 1);
export const msLit = (ms: number) => `${Math.trunc(Math.min(QUERY_MAX_MS, Math.max(QUERY_MIN_MS, ms)))}ms`;
const q = escape.quoted;

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export class PersonReader {
  readonly maxTrackMs: number;

  constructor(private readonly influx: InfluxDB, private readonly database: string, opts: { maxTrackMs?: number } = {}) {
    this.maxTrackMs = opts.maxTrackMs ?? DEFAULT_MAX_TRACK_MS;
  }

  private get measurement(): string {
    return `${q(this.database)}.${q(RP.raw)}.${q(M.person)}`;
  }

  /** The WHERE clause of a filter (without the page cursor). */
  where(f: TrackFilter): string {
    const parts = [
      `${q("site")} = ${escape.stringLit(f.site)}`,
      `time >= ${msLit(f.from - this.maxTrackMs)}`,
      `time < ${msLit(f.to + 1)}`,
      `${q("end")} >= ${Math.trunc(f.from)}`,
    ];
    for (const a of f.attrs) {
      if (a.name === "upper" || a.name === "lower") {
        parts.push(`${q(a.name)} = ${escape.stringLit(a.value)}`);
        if (f.minConfidence > 0) parts.push(`${q(`${a.name}_conf`)} >= ${f.minConfidence}`);
      } else {
        // names and values are validated tokens ([a-z0-9_-]): nothing to escape in the regex
        parts.push(`${q("attrs")} =~ /"${a.name}"\\s*:\\s*\\{[^}]*"value"\\s*:\\s*"${a.value}"/`);
      }
    }
    if (f.zone !== undefined) parts.push(`${q("spaces")} =~ /\\|${f.zone}\\|/`);
    return parts.join(" AND ");
  }

  private fieldsFor(s: PersonScan): PersonField[] {
    const fields = new Set<PersonField>(["person", "start", "end", ...s.fields]);
    for (const a of s.filter.attrs) {
      if (a.name === "upper" || a.name === "lower") { fields.add(a.name); fields.add(`${a.name}_conf`); }
      else fields.add("attrs");
    }
    return [...fields];
  }

  /**
   * Pages through the matching persons in point-time order, one array per InfluxDB request
   * (possibly empty when every row of a batch failed the exact attribute check). Stop iterating
   * to stop reading.
   */
  async *scan(s: PersonScan): AsyncGenerator<PersonRow[]> {
    const fields = this.fieldsFor(s);
    const select = fields.map((f) => q(f)).join(", ");
    const where = this.where(s.filter);
    let after = s.afterNs;
    for (;;) {
      const cursor = after === undefined ? "" : ` AND time ${s.order === "desc" ? "<" : ">"} ${after}`;
      const rows = await this.influx.query<Record<string, unknown>>(
        `SELECT ${select} FROM ${this.measurement} WHERE ${where}${cursor} ORDER BY time ${s.order.toUpperCase()} LIMIT ${s.batch}`,
        { database: this.database },
      );
      const out: PersonRow[] = [];
      for (const row of rows) {
        const timeNs = (row.time as INanoDate).getNanoTime();
        after = timeNs;
        const r: PersonRow = { timeNs, person: typeof row.person === "string" ? row.person : "", start: num(row.start), end: num(row.end), raw: row as Partial<Record<PersonField, unknown>> };
        if (r.start > s.filter.to || r.end < s.filter.from) continue;
        if (!matchesAttrs(r, s.filter.attrs, s.filter.minConfidence)) continue;
        out.push(r);
      }
      yield out;
      if (rows.length < s.batch) return;
    }
  }

  /** How many persons match the InfluxQL part of a filter (the exact attribute check is not applied). */
  async count(f: TrackFilter): Promise<number> {
    const rows = await this.influx.query<{ count: unknown }>(
      `SELECT count(${q("person")}) AS ${q("count")} FROM ${this.measurement} WHERE ${this.where(f)}`,
      { database: this.database },
    );
    return num(rows[0]?.count);
  }

  /** Every matching person, in time order (for statistics and heatmaps: read only the fields needed). */
  async forEach(f: TrackFilter, fields: readonly PersonField[], fn: (r: PersonRow) => void, batch = 5000): Promise<number> {
    let n = 0;
    for await (const rows of this.scan({ filter: f, fields, order: "asc", batch })) {
      for (const r of rows) { fn(r); n++; }
    }
    return n;
  }
}
