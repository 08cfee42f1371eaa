import { z } from "zod";

/** Earliest and latest instants we accept from devices and API callers. */
export const MIN_TS = Date.UTC(2000, 0, 1);
export const MAX_TS = Date.UTC(2100, 0, 1);

const RFC3339 =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A device or API timestamp: RFC 3339 text or epoch milliseconds.
 * Parsed to epoch milliseconds (integer); anything outside 2000..2100 is refused.
 */
export const Timestamp = z
  .union([
    z.number().int("epoch ms must be an integer"),
    z.string().regex(RFC3339, "ts must be RFC 3339 (e.g. 2026-11-23T10:00:00Z) or epoch ms"),
  ])
  .transform((v, ctx) => {
    const ms = typeof v === "number" ? v : Date.parse(v);
    if (!Number.isFinite(ms) || ms < MIN_TS || ms > MAX_TS) {
      ctx.addIssue({ code: "custom", message: "ts out of range (2000-01-01 .. 2100-01-01)" });
      return z.NEVER;
    }
    return Math.floor(ms);
  });

/** Query-string time: RFC 3339, a date (YYYY-MM-DD), epoch ms as digits, or "now". Returns epoch ms. */
export function parseQueryTime(v: string, now = Date.now()): number | undefined {
  if (v === "now") return now;
  if (/^\d{1,16}$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}
