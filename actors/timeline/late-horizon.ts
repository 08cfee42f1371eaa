import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { z } from "zod";
import { acceptWindowMs } from "../../contracts/time.ts";
import { DEFAULTS } from "../../infra/config.ts";
import { counter } from "../../infra/metrics.ts";

/** The occupancy kinds' (doorway, space, site) tunables, named as their configuration keys. */
export const OccupancyParams = z.strictObject({
  /** how far (event time) behind the newest event an event may be and still correct history exactly (hours) */
  lateHorizonHours: z.number().positive().default(DEFAULTS.lateHorizonHours),
  /**
   * most entries (events, seen keys, points) one actor keeps for late corrections: beyond it the
   * oldest are folded away early, and a later event older than them is refused as too late.
   * Bounds memory and snapshot size for very busy entities.
   */
  maxTimeline: z.number().int().min(1).default(DEFAULTS.maxTimeline),
  /**
   * the raw retention policy's duration (FOOTFALL_RAW_RETENTION): InfluxDB drops points older
   * than it, so no event older may be counted, and the late horizon never reaches past it
   */
  rawRetention: z.string().regex(/^\d+[smhdw]$|^INF$/, "an InfluxDB duration such as 30d, 12h or INF").default(DEFAULTS.rawRetention),
});
export type OccupancyParams = z.output<typeof OccupancyParams>;

/**
 * The effective late horizon: FOOTFALL_LATE_HORIZON_H, but never longer than the actors' accept
 * window of the raw retention (contracts/time.ts acceptWindowMs): an event that late could no
 * longer correct a history InfluxDB has already dropped.
 */
export const lateHorizonMs = (p: OccupancyParams) => {
  const hours = p.lateHorizonHours * 3_600_000;
  const window = acceptWindowMs(p.rawRetention, "actor");
  return window === undefined ? hours : Math.min(hours, window);
};

/** Events too old to correct history exactly (beyond the late horizon), by occupancy kind. */
export const tooLateCounter = (registry: Registry = defaultRegistry): Counter<"kind"> =>
  counter(registry, "footfall_occupancy_too_late_total",
    "Crossings or moves older than the late horizon (or crossings older than the raw retention allows), ignored because they can no longer correct history exactly", ["kind"]);

/** Over the cap, fold down to this share of it, so the O(size) fold is not repeated per event. */
export const capKeep = (maxEntries: number) => Math.max(1, Math.floor(maxEntries * 0.9));

/** Below this many foldable entries, compaction waits (unless a quarter of the state is foldable). */
const FOLD_BATCH = 4096;

/** Is folding `foldable` of `size` entries worth an O(size) pass now? Keeps compaction O(1) amortised per event. */
export function worthFolding(foldable: number, size: number): boolean {
  return foldable > 0 && (foldable >= FOLD_BATCH || foldable * 4 >= size);
}
