import { z } from "zod";
import { StepSeries, StepSeriesSnapshot, sumFrom } from "../timeline/step-series.ts";
import { capKeep, worthFolding } from "../timeline/late-horizon.ts";
import type { CountsTail } from "../timeline/timeline.ts";

export const SiteTimelinesSnapshot = z.strictObject({
  v: z.literal(1),
  floor: z.number().int().nullable(),
  dirty: z.number().int().nullable(),
  newest: z.number().int().nullable(),
  applied: z.number().int().nonnegative(),
  spaces: z.record(z.string(), StepSeriesSnapshot),
});
export type SiteTimelinesSnapshot = z.infer<typeof SiteTimelinesSnapshot>;

/**
 * Every space's count timeline as the site actor knows it (from SpaceCountsMsg tails), and the
 * site total derived from them. Points older than the late horizon are folded away; history
 * before that `floor` is only known as each space's value at the floor, so a tail starting
 * earlier is applied from the floor on (`partial`).
 */
export class SiteTimelines {
  private spaces = new Map<string, StepSeries>();
  private floor = Number.NEGATIVE_INFINITY;
  private dirty = Number.POSITIVE_INFINITY;
  private newestTs = Number.NEGATIVE_INFINITY;
  private applied = 0;

  /** Tails applied so far: a version number for deterministic message ids. */
  get version(): number { return this.applied; }
  get newest(): number | undefined { return Number.isFinite(this.newestTs) ? this.newestTs : undefined; }
  get floorTs(): number | undefined { return Number.isFinite(this.floor) ? this.floor : undefined; }
  get dirtyFrom(): number | undefined { return Number.isFinite(this.dirty) ? this.dirty : undefined; }
  spaceIds(): string[] { return [...this.spaces.keys()]; }

  /** A space's recomputed tail of the given version, merged into that space's points (see StepSeries.merge). */
  apply(space: string, from: number, before: number, points: ReadonlyArray<readonly [number, number]>, version: number): { partial: boolean } {
    let series = this.spaces.get(space);
    if (!series) {
      series = new StepSeries();
      this.spaces.set(space, series);
    }
    this.applied++;
    let partial = false;
    if (from < this.floor) {
      partial = true;
      let k = 0;
      while (k < points.length && points[k]![0] < this.floor) k++;
      series.merge(this.floor, k > 0 ? points[k - 1]![1] : before, points.slice(k), version);
      from = this.floor;
    } else {
      series.merge(from, before, points, version);
    }
    if (from < this.dirty) this.dirty = from;
    const last = points[points.length - 1];
    if (last && last[0] > this.newestTs) this.newestTs = last[0];
    return { partial };
  }

  /** A space's count at instant t (0 for a space never heard of). */
  spaceAt(space: string, t: number): number {
    return this.spaces.get(space)?.valueAt(t) ?? 0;
  }

  /** The site total at instant t. */
  totalAt(t: number): number {
    let sum = 0;
    for (const s of this.spaces.values()) sum += s.valueAt(t);
    return sum;
  }

  /** The site total now. */
  total(): number {
    let sum = 0;
    for (const s of this.spaces.values()) sum += s.last();
    return sum;
  }

  /** The total's tail from the earliest change since the last call (undefined if none); marks it clean. */
  takeDirty(): CountsTail | undefined {
    if (!Number.isFinite(this.dirty)) return undefined;
    const tail = sumFrom([...this.spaces.values()], this.dirty);
    this.dirty = Number.POSITIVE_INFINITY;
    return tail;
  }

  /**
   * Folds points older than (newest - horizonMs) in every space; lazy waits for a worthwhile
   * batch. With more than maxEntries points in all, also the oldest down to 90 % of that.
   */
  compact(horizonMs: number, lazy = true, maxEntries = Number.POSITIVE_INFINITY): number {
    if (!Number.isFinite(this.newestTs)) return 0;
    let size = 0;
    for (const s of this.spaces.values()) size += s.size;
    const overCap = size > maxEntries;
    let cutoff = this.newestTs - horizonMs;
    if (overCap) {
      const all: number[] = [];
      for (const s of this.spaces.values()) for (let i = 0; i < s.size; i++) all.push(s.pointAt(i)![0]);
      all.sort((a, b) => a - b);
      cutoff = Math.max(cutoff, all[all.length - capKeep(maxEntries)]!);
      lazy = false;
    }
    cutoff = Math.min(cutoff, this.dirty);
    if (cutoff <= this.floor) return 0;
    let foldable = 0;
    for (const s of this.spaces.values()) foldable += s.countBefore(cutoff);
    if (foldable === 0) return 0;
    if (lazy && !worthFolding(foldable, size)) return 0;
    for (const s of this.spaces.values()) s.foldBefore(cutoff);
    this.floor = cutoff;
    return foldable;
  }

  encode(): SiteTimelinesSnapshot {
    const spaces: Record<string, z.infer<typeof StepSeriesSnapshot>> = {};
    for (const [id, s] of this.spaces) spaces[id] = s.encode();
    return {
      v: 1,
      floor: this.floorTs ?? null,
      dirty: this.dirtyFrom ?? null,
      newest: this.newest ?? null,
      applied: this.applied,
      spaces,
    };
  }

  static decode(raw: unknown): SiteTimelines {
    const s = SiteTimelinesSnapshot.parse(raw);
    const out = new SiteTimelines();
    out.floor = s.floor ?? Number.NEGATIVE_INFINITY;
    out.dirty = s.dirty ?? Number.POSITIVE_INFINITY;
    out.newestTs = s.newest ?? Number.NEGATIVE_INFINITY;
    out.applied = s.applied;
    for (const [id, series] of Object.entries(s.spaces)) out.spaces.set(id, StepSeries.decode(series));
    return out;
  }
}
