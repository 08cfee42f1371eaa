import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { z } from "zod";
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
});
export type OccupancyParams = z.output<typeof OccupancyParams>;

export const lateHorizonMs = (p: OccupancyParams) => p.lateHorizonHours * 3_600_000;

/** Events too old to correct history exactly (beyond the late horizon), by occupancy kind. */
export const tooLateCounter = (registry: Registry = defaultRegistry): Counter<"kind"> =>
  counter(registry, "footfall_occupancy_too_late_total",
    "Crossings or moves older than the late horizon, ignored because they can no longer correct history exactly", ["kind"]);

/** Over the cap, fold down to this share of it, so the O(size) fold is not repeated per event. */
export const capKeep = (maxEntries: number) => Math.max(1, Math.floor(maxEntries * 0.9));

/** Below this many foldable entries, compaction waits (unless a quarter of the state is foldable). */
const FOLD_BATCH = 4096;

/** Is folding `foldable` of `size` entries worth an O(size) pass now? Keeps compaction O(1) amortised per event. */
export function worthFolding(foldable: number, size: number): boolean {
  return foldable > 0 && (foldable >= FOLD_BATCH || foldable * 4 >= size);
}
