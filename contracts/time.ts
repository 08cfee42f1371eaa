import { z } from "zod";

/** Earliest and latest instants we accept from devices and API callers. */
export const MIN_TS = Date.UTC(2000, 0, 1);
export const MAX_TS = Date.UTC(2100, 0, 1);

const RFC3339 =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * Why a date or date-time text names no real instant, or undefined if it does (or is not of the
 * YYYY-MM-DD[Thh:mm:ss...] shape at all). Date.parse rolls impossible dates over
 * (2026-02-30 becomes 2 March) and wraps 24:00; we refuse them instead.
 */
export function calendarProblem(v: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?(?:[Zz]|([+-])(\d{2}):(\d{2}))?$/.exec(v);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12) return `${v} is not a calendar date: there is no month ${m[2]}`;
  const days = daysIn(year, month);
  if (day < 1 || day > days) return `${v} is not a calendar date: ${MONTHS[month - 1]} ${year} has ${days} days`;
  if (m[4] !== undefined) {
    if (Number(m[4]) > 23) return `${v} is not a time of day: hours run 00..23`;
    if (Number(m[5]) > 59) return `${v} is not a time of day: minutes run 00..59`;
    if (m[6] !== undefined && Number(m[6]) > 59) return `${v} is not a time of day: seconds run 00..59`;
  }
  if (m[8] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return `${v} has no valid UTC offset (±hh:mm, hh 00..23, mm 00..59)`;
  return undefined;
}

/**
 * A device or API timestamp: RFC 3339 text or epoch milliseconds.
 * Parsed to epoch milliseconds (integer); an impossible calendar date (2026-02-30) or anything
 * outside 2000..2100 is refused.
 */
export const Timestamp = z
  .union([
    z.number().int("epoch ms must be an integer"),
    z.string().regex(RFC3339, "ts must be RFC 3339 (e.g. 2026-11-23T10:00:00Z) or epoch ms"),
  ])
  .transform((v, ctx) => {
    if (typeof v === "string") {
      const problem = calendarProblem(v);
      if (problem) {
        ctx.addIssue({ code: "custom", message: `ts ${problem}` });
        return z.NEVER;
      }
    }
    const ms = typeof v === "number" ? v : Date.parse(v);
    if (!Number.isFinite(ms) || ms < MIN_TS || ms > MAX_TS) {
      ctx.addIssue({ code: "custom", message: "ts out of range (2000-01-01 .. 2100-01-01)" });
      return z.NEVER;
    }
    return Math.floor(ms);
  });

/**
 * Query-string time: RFC 3339, a date (YYYY-MM-DD), epoch ms as digits, or "now". Returns epoch
 * ms; undefined if it is none of these or names no real instant (see calendarProblem).
 */
export function parseQueryTime(v: string, now = Date.now()): number | undefined {
  if (v === "now") return now;
  if (/^\d{1,16}$/.test(v)) return Number(v);
  if (calendarProblem(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

const DURATION_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** An InfluxDB duration ("30d", "12h", "2w", "INF") in milliseconds; undefined = kept for ever. */
export function influxDurationMs(d: string): number | undefined {
  if (d === "INF") return undefined;
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m) throw new RangeError(`not an InfluxDB duration: ${d}`);
  return Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS];
}

/**
 * How old (against the wall clock) an event may be and still be accepted, given the raw
 * retention (FOOTFALL_RAW_RETENTION). InfluxDB drops a point older than the retention when it
 * is written, so an event accepted at the edge would be counted live and then be missing from
 * history. A safety margin of a tenth of the retention, at most one hour, leaves room for the
 * time between accepting an event and writing its points (queues, an InfluxDB outage):
 *   "door"  (broker, HTTP ingest): the retention less the whole margin;
 *   "actor" (the doorway actor, which counts it): the retention less half the margin, so an
 *           event the door accepted is refused later only if it waited in the stream longer
 *           than half the margin, and one the actor counted is lost from history only if its
 *           point waited longer than half the margin to be written.
 * undefined: no bound (retention INF).
 */
export function acceptWindowMs(rawRetention: string, where: "door" | "actor"): number | undefined {
  const keep = influxDurationMs(rawRetention);
  if (keep === undefined) return undefined;
  const margin = Math.min(3_600_000, Math.floor(keep / 10));
  return keep - (where === "door" ? margin : Math.floor(margin / 2));
}

/** Why an event at `ts` is too old to accept at `now`, or undefined. */
export function tooOldProblem(ts: number, now: number, windowMs: number | undefined, rawRetention: string): string | undefined {
  if (windowMs === undefined || ts >= now - windowMs) return undefined;
  return `ts ${new Date(ts).toISOString()} is too late: events older than ${new Date(now - windowMs).toISOString()} ` +
    `are refused (raw retention ${rawRetention}, FOOTFALL_RAW_RETENTION; its points would be dropped)`;
}
