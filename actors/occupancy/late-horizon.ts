import type { Registry } from "prom-client";

/** What every occupancy actor kind is configured with. */
export interface LateHorizonDeps {
  /** how far (event time) behind the newest event an event may be and still correct history exactly */
  lateHorizonMs: number;
  /** prom-client registry for the counters (default: prom-client's global one) */
  registry?: Registry;
}

/** Below this many foldable entries, compaction waits (unless a quarter of the state is foldable). */
const FOLD_BATCH = 4096;

/** Is folding `foldable` of `size` entries worth an O(size) pass now? Keeps compaction O(1) amortised per event. */
export function worthFolding(foldable: number, size: number): boolean {
  return foldable > 0 && (foldable >= FOLD_BATCH || foldable * 4 >= size);
}
