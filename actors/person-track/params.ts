/** Parameters of the person-track actor (one per person across cameras). */
export interface PersonParams {
  /** a new path anchor once the per-second position moved this far from the last anchor (m) */
  anchorM: number;
  /** most per-second bins a track keeps (6 h); observations that would open more are dropped and counted */
  maxBins: number;
  /** most points of the stored path (InfluxDB string fields hold at most 64 KB); more are thinned evenly */
  maxPathPoints: number;
  /** most entries of the stored visits and tracklets lists (the newest are kept) */
  maxListItems: number;
  /** most reprocessing job ids remembered (each job's votes are applied once) */
  maxJobs: number;
  /**
   * the person point (with its whole path) is rewritten once the newest observation moved on
   * this much since the last write, and always when the track ends or attributes change (ms of
   * event time; 0 = at every flush). PersonUpdate events and zone messages are not throttled.
   */
  pointEveryMs: number;
}

export const DEFAULT_PERSON_PARAMS: Readonly<PersonParams> = Object.freeze({
  anchorM: 0.5,
  maxBins: 6 * 3600,
  maxPathPoints: 1500,
  maxListItems: 1000,
  maxJobs: 1000,
  pointEveryMs: 1000,
});

export const personParams = (p: Partial<PersonParams> = {}): PersonParams => ({ ...DEFAULT_PERSON_PARAMS, ...p });
