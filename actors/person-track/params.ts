import { z } from "zod";

/** Parameters of the person-track actor (one per person across cameras). */
export const PersonParams = z.strictObject({
  /** a new path anchor once the per-second position moved this far from the last anchor (m) */
  anchorM: z.number().default(0.5),
  /** most per-second bins a track keeps (6 h); observations that would open more are dropped and counted */
  maxBins: z.number().int().default(6 * 3600),
  /** most points of the stored path (InfluxDB string fields hold at most 64 KB); more are thinned evenly */
  maxPathPoints: z.number().int().default(1500),
  /** most entries of the stored visits and tracklets lists (the newest are kept) */
  maxListItems: z.number().int().default(1000),
  /** most reprocessing job ids remembered (each job's votes are applied once) */
  maxJobs: z.number().int().default(1000),
  /**
   * the person point (with its whole path) is rewritten once the newest observation moved on
   * this much since the last write, and always when the track ends or attributes change (ms of
   * event time; 0 = at every flush). PersonUpdate events and zone messages are not throttled.
   */
  pointEveryMs: z.number().default(1000),
});
export type PersonParams = z.output<typeof PersonParams>;
