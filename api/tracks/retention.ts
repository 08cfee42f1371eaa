import { ApiError } from "../http/api-error.ts";

/**
 * The raw retention guard of the camera-pipeline queries. InfluxDB drops raw points older than
 * cfg.rawRetention (FOOTFALL_RAW_RETENTION, default "30d"); a query reaching further back would
 * silently answer less than asked, so it is refused with HTTP 410 and a plain reason instead.
 * A few minutes of grace absorb clock differences and latency ("the last 30 days" computed by a
 * client a moment earlier is still accepted).
 */

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** Accepted lateness of `from` beyond the retention (clock skew, request latency). */
export const RETENTION_GRACE_MS = 5 * 60_000;

/** An InfluxDB duration ("30d", "12h", "2w", "INF") in milliseconds; undefined = kept for ever. */
export function durationMs(d: string): number | undefined {
  if (d === "INF") return undefined;
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m) throw new RangeError(`not an InfluxDB duration: ${d}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export class RetentionGuard {
  readonly keepMs: number | undefined;

  constructor(readonly rawRetention: string) {
    this.keepMs = durationMs(rawRetention);
  }

  /** The oldest instant that may be asked at `now` (undefined: no limit). */
  oldest(now: number): number | undefined {
    return this.keepMs === undefined ? undefined : now - this.keepMs;
  }

  /** Throws 410 beyond_retention when `t` (named `name`) is older than the raw data kept. */
  check(t: number, now: number, name = "from"): void {
    const oldest = this.oldest(now);
    if (oldest === undefined || t >= oldest - RETENTION_GRACE_MS) return;
    throw new ApiError(410, "beyond_retention",
      `${name} ${new Date(t).toISOString()} is too old: data older than ${this.rawRetention} is not kept ` +
      `(FOOTFALL_RAW_RETENTION), so the answer would be incomplete; ask from ${new Date(oldest).toISOString()} on`,
      { oldest: new Date(oldest).toISOString(), retention: this.rawRetention });
  }
}
