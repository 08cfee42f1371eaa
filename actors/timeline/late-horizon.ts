import type { Registry } from "prom-client";

/** What every occupancy actor kind is configured with. */
export interface LateHorizonDeps {
  /** how far (event time) behind the newest event an event may be and still correct history exactly */
  lateHorizonMs: number;
  /**
   * most entries (events, seen keys, points) one actor keeps for late corrections (default
   * DEFAULT_MAX_ENTRIES): beyond it the oldest are folded away early, and a later event older
   * than them is refused as too late. Bounds memory and snapshot size for very busy entities.
   */
  maxEntries?: number;
  /** prom-client registry for the counters (default: prom-client's global one) */
  registry?: Registry;
}

export const DEFAULT_MAX_ENTRIES = 200_000;

/** Over the cap, fold down to this share of it, so the O(size) fold is not repeated per event. */
export const capKeep = (maxEntries: number) => Math.max(1, Math.floor(maxEntries * 0.9));

/** Below this many foldable entries, compaction waits (unless a quarter of the state is foldable). */
const FOLD_BATCH = 4096;

/** Is folding `foldable` of `size` entries worth an O(size) pass now? Keeps compaction O(1) amortised per event. */
export function worthFolding(foldable: number, size: number): boolean {
  return foldable > 0 && (foldable >= FOLD_BATCH || foldable * 4 >= size);
}
