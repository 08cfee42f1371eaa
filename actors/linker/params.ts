import { z } from "zod";
import { DEFAULTS } from "../../infra/config.ts";

/**
 * Parameters of the linker actor (cross-camera linking of tracklets into persons). Every
 * threshold of the linking method lives here, with its default and what it gates.
 */
export const LinkerParams = z.strictObject({
  /** a new tracklet is decided once it has this many observations (or when it ends) */
  minObs: z.number().default(6),
  /** overlap candidates: observations of two cameras at most this far apart in time are compared (s) */
  overlapDtS: z.number().default(0.4),
  /** overlap candidates: this many of the new tracklet's observations (or half of them, if fewer) need a partner in time */
  overlapMatches: z.number().default(3),
  /** overlap candidates: the mean floor distance of the compared observations must be at most this (m) */
  overlapDistM: z.number().default(1.2),
  /** hand-over on the same camera: largest gap between the person's last observation there and the new tracklet (s) */
  sameCameraGapS: z.number().default(4),
  /** hand-over between neighbour cameras: the walking-time window [min_s, max_s] is widened by this on each side (s) */
  slackS: z.number().default(2),
  /**
   * hand-over from a camera the topology does not list as a neighbour (or outside the listed
   * window, or the same camera after sameCameraGapS): allowed up to this gap (s; 0 = never) ...
   */
  unlistedGapS: z.number().default(30),
  /** ... at this extra cost */
  unlistedCost: z.number().default(0.5),
  /** hand-over: the straight-line speed needed from the person's last position to the tracklet's first one (m/s) */
  maxSpeedMps: z.number().default(2.5),
  /** hand-over speed gate: position noise forgiven before the speed is computed (m) */
  posSlackM: z.number().default(1),
  /** hand-over spatial cost: the predicted position may be this far off at no gap (m) ... */
  handoverRadiusM: z.number().default(1.5),
  /** ... plus this much per second of gap (m/s) */
  spreadMps: z.number().default(1),
  /** hand-over: the person's velocity is extrapolated for at most this long (s) */
  predictS: z.number().default(10),
  /** hand-over: spatial cost of the "turned on the way" hypothesis (a straight walk that fits costs less) */
  turnCost: z.number().default(0.5),
  /** cameras whose last observation of a person is within this of the person's newest one count as "last seen by" (s) */
  lastSeenS: z.number().default(2),
  /** weight of the attribute term (1 - Bhattacharyya coefficient, mean over the compared attributes) */
  attrWeight: z.number().default(1),
  /** weight of the embedding term (cosine distance, clamped to 0..1) */
  embWeight: z.number().default(1),
  /** attributes compared by the appearance term */
  appearanceAttrs: z.array(z.string()).default(() => ["upper", "lower"]),
  /** a side is confident about an attribute with at least this summed confidence ... */
  contradictionVotes: z.number().default(1),
  /** ... and this share for its top value; two confident sides with different top values never link */
  contradictionShare: z.number().default(0.6),
  /** candidates costing more than this are not linked (a new person starts) */
  maxCost: z.number().default(1.6),
  /** a person's buffered observations are sent once they span this much frame time (ms) */
  batchMs: z.number().default(1000),
  /** a person not observed for this long (linker stream time) is ended; must exceed the neighbours' max_s (s) */
  personSilenceS: z.number().default(DEFAULTS.personSilenceS),
  /** observations kept per linked tracklet, and per person and camera, for overlap checks */
  tailObs: z.number().default(25),
  /** a camera that has not seen a person for this long keeps only its newest observation of them (ms) */
  tailMs: z.number().default(10_000),
  /** a person's recent observations (all cameras) kept for its position and velocity (ms) */
  recentMs: z.number().default(3000),
  /** most observations a pending tracklet keeps (beyond this its oldest ones are dropped) */
  maxBacklog: z.number().default(3000),
  /** event-time merge: a camera this far (frame time) behind the newest one is not waited for (ms) */
  linkerWaitMs: z.number().default(DEFAULTS.linkerWaitMs),
  /** event-time merge: held messages are all released after this much wall time without a message (ms) */
  quietMs: z.number().default(DEFAULTS.linkerQuietMs),
});
export type LinkerParams = z.output<typeof LinkerParams>;
