import { calendarProblem, parseQueryTime } from "../../contracts/time.ts";
import { badRequest } from "./api-error.ts";

/** Query-string instants, ranges and steps of the occupancy endpoints. */

export const MAX_SERIES_POINTS = 10_000;
export const MAX_DAILY_DAYS = 366;
export const DAY_MS = 86_400_000;
/** The largest instant a JS Date can hold. */
const DATE_LIMIT_MS = 8.64e15;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS } as const;
/** Steps picked when none is given: the smallest giving at most DEFAULT_POINTS points. */
const NICE_STEPS = ["1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "7d"] as const;
const DEFAULT_POINTS = 500;

/** An instant from the query string (RFC 3339, YYYY-MM-DD, epoch ms, "now"); absent -> `fallback`. */
export function readInstant(raw: unknown, name: string, fallback: number, now: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== "string") throw badRequest(`${name} must be given once`);
  const impossible = calendarProblem(raw);
  if (impossible) throw badRequest(`${name}: ${impossible}`);
  const t = parseQueryTime(raw, now);
  if (t === undefined) throw badRequest(`${name}: "${raw}" is not a time (use RFC 3339, YYYY-MM-DD, epoch milliseconds or "now")`);
  if (Math.abs(t) > DATE_LIMIT_MS) throw badRequest(`${name}: "${raw}" is out of range`);
  return t;
}

/** "30s", "15m", "1h", "1d" -> milliseconds; undefined if malformed. */
export function parseStep(raw: string): number | undefined {
  const m = /^([1-9]\d{0,5})([smhd])$/.exec(raw);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

/** The shortest spelling of a step in milliseconds ("90s", "15m", "1d"). */
export function formatStep(ms: number): string {
  for (const u of ["d", "h", "m", "s"] as const) if (ms % UNIT_MS[u] === 0) return `${ms / UNIT_MS[u]}${u}`;
  return `${ms}ms`;
}

export function defaultStep(rangeMs: number): number {
  for (const s of NICE_STEPS) {
    const ms = parseStep(s)!;
    if (rangeMs / ms <= DEFAULT_POINTS) return ms;
  }
  return parseStep(NICE_STEPS[NICE_STEPS.length - 1]!)!;
}

export interface SeriesRange { from: number; to: number; step: number; points: number }

/** from (default: to - 24h), to (default: now), step (default from the range); at most MAX_SERIES_POINTS boundaries. */
export function readSeriesRange(q: Record<string, unknown>, now: number): SeriesRange {
  const to = readInstant(q.to, "to", now, now);
  const from = readInstant(q.from, "from", to - DAY_MS, now);
  if (from > to) throw badRequest("from must not be after to");
  let step: number;
  if (q.step === undefined) step = defaultStep(to - from);
  else {
    if (typeof q.step !== "string") throw badRequest("step must be given once");
    const s = parseStep(q.step);
    if (s === undefined) throw badRequest(`step: "${q.step}" is not a step (a number and s, m, h or d, e.g. 1m, 15m, 1h)`);
    step = s;
  }
  const points = Math.floor((to - from) / step) + 1;
  if (points > MAX_SERIES_POINTS) {
    throw badRequest(`from..to at step ${formatStep(step)} gives ${points} points; at most ${MAX_SERIES_POINTS} (use a larger step)`);
  }
  return { from, to, step, points };
}

export const dayStart = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;

export interface DayRange { firstDay: number; lastDay: number }

/** UTC days from the day of `from` to the day of `to`, both included (default: the last 7 days up to today). */
export function readDayRange(q: Record<string, unknown>, now: number): DayRange {
  const to = readInstant(q.to, "to", now, now);
  const from = readInstant(q.from, "from", dayStart(to) - 6 * DAY_MS, now);
  if (from > to) throw badRequest("from must not be after to");
  const firstDay = dayStart(from);
  const lastDay = dayStart(to);
  const days = (lastDay - firstDay) / DAY_MS + 1;
  if (days > MAX_DAILY_DAYS) throw badRequest(`from..to spans ${days} days; at most ${MAX_DAILY_DAYS}`);
  return { firstDay, lastDay };
}

export const isoDate = (dayStartMs: number) => new Date(dayStartMs).toISOString().slice(0, 10);
