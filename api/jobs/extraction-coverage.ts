import { escape, type InfluxDB } from "influx";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { M } from "../../contracts/track-store.ts";
import { isConflict } from "../http/kv-cas.ts";
import { RP } from "../../contracts/influx-layout.ts";
import { msLit } from "../tracks/track-reader.ts";

/**
 * Which parts of a time range have an attribute extracted (seed 000: "if the transformed data
 * does not have the datapoints we need, we trigger video -> raw data -> transformed data again").
 *
 * A minute of a site is uncovered for attribute A when some camera had person detections in it
 * (camera_stats detections > 0) but none of that camera's detections carried A in that minute
 * (camera_attrs{attr=A} n == 0 or no point), and no finished reprocessing job covered it.
 * Finished jobs record their ranges in KV ff_extraction under "{site}.{attribute}".
 */

export type Range = [number, number];

export const MINUTE = 60_000;

const q = escape.quoted;
const Covered = z.object({ ranges: z.array(z.tuple([z.number(), z.number()])) });
/** At most this many disjoint covered ranges are kept per key (the oldest merge away first). */
const MAX_RANGES = 10_000;
const enc = new TextEncoder();

/** Sorted, disjoint, with touching ranges joined. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter(([a, b]) => b > a).map(([a, b]): Range => [a, b]).sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** Parts of `a` not covered by `b` (both merged). */
export function subtractRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const [from, to] of mergeRanges(a)) {
    let start = from;
    for (const [cf, ct] of mergeRanges(b)) {
      if (ct <= start || cf >= to) continue;
      if (cf > start) out.push([start, cf]);
      start = Math.max(start, ct);
      if (start >= to) break;
    }
    if (start < to) out.push([start, to]);
  }
  return out;
}

export class ExtractionCoverage {
  constructor(private readonly influx: InfluxDB, private readonly database: string, private readonly kv: () => Promise<KV>) {}

  private from(m: string): string {
    return `${q(this.database)}.${q(RP.raw)}.${q(m)}`;
  }

  private static key(site: string, attr: string): string {
    return `${site}.${attr}`;
  }

  /** Ranges finished jobs covered, and the KV revision they were read at (0: none). */
  async covered(site: string, attr: string): Promise<{ ranges: Range[]; revision: number }> {
    const e = await (await this.kv()).get(ExtractionCoverage.key(site, attr));
    if (!e || e.operation !== "PUT") return { ranges: [], revision: e?.revision ?? 0 };
    let parsed: unknown;
    try { parsed = JSON.parse(e.string()); } catch { parsed = undefined; }
    const c = Covered.safeParse(parsed);
    return { ranges: c.success ? mergeRanges(c.data.ranges) : [], revision: e.revision };
  }

  /** Minute-aligned ranges within [from, to] where detections lacked the attribute and no job covered them. */
  async uncovered(site: string, attr: string, from: number, to: number): Promise<Range[]> {
    const a = Math.floor(from / MINUTE) * MINUTE;
    const b = Math.floor(to / MINUTE) * MINUTE + MINUTE;
    const siteIs = `${q("site")} = ${escape.stringLit(site)}`;
    const range = `time >= ${msLit(a)} AND time < ${msLit(b)}`;
    const [detections, carried] = await this.influx.query<{ camera: string; v: unknown }>([
      `SELECT sum("detections") AS "v" FROM ${this.from(M.cameraStats)} WHERE ${siteIs} AND ${range} GROUP BY time(1m), ${q("camera")} fill(none)`,
      `SELECT sum("n") AS "v" FROM ${this.from(M.cameraAttrs)} WHERE ${siteIs} AND ${q("attr")} = ${escape.stringLit(attr)} AND ${range} GROUP BY time(1m), ${q("camera")} fill(none)`,
    ], { database: this.database });
    const extracted = new Set<string>();
    for (const r of carried ?? []) if (typeof r.v === "number" && r.v > 0) extracted.add(`${r.camera}|${r.time.getTime()}`);
    const minutes = new Set<number>();
    for (const r of detections ?? []) {
      const t = r.time.getTime();
      if (typeof r.v === "number" && r.v > 0 && !extracted.has(`${r.camera}|${t}`)) minutes.add(t);
    }
    if (minutes.size === 0) return [];
    const missing = mergeRanges([...minutes].map((m): Range => [m, m + MINUTE]));
    const { ranges: covered } = await this.covered(site, attr);
    return subtractRanges(missing, covered);
  }

  /** Records ranges as covered (merged into what is there; compare-and-set, retried on conflict). */
  async add(site: string, attr: string, ranges: readonly Range[]): Promise<void> {
    const kv = await this.kv();
    const key = ExtractionCoverage.key(site, attr);
    for (let attempt = 0; ; attempt++) {
      const { ranges: now, revision } = await this.covered(site, attr);
      let merged = mergeRanges([...now, ...ranges]);
      while (merged.length > MAX_RANGES) {
        // join the two oldest ranges: coverage of their gap is claimed, which only ever errs on old data
        merged = mergeRanges([[merged[0]![0], merged[1]![1]], ...merged.slice(2)]);
      }
      const value = enc.encode(JSON.stringify({ ranges: merged }));
      try {
        if (revision === 0) await kv.create(key, value);
        else await kv.update(key, value, revision);
        return;
      } catch (e) {
        if (!isConflict(e) || attempt >= 20) throw e;
      }
    }
  }
}
