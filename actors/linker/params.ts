/**
 * Parameters of the linker actor (cross-camera linking of tracklets into persons). Every
 * threshold of the linking method lives here, with its default and what it gates.
 */
export interface LinkerParams {
  /** a new tracklet is decided once it has this many observations (or when it ends) */
  minObs: number;
  /** overlap candidates: observations of two cameras at most this far apart in time are compared (s) */
  overlapDtS: number;
  /** overlap candidates: this many of the new tracklet's observations (or half of them, if fewer) need a partner in time */
  overlapMatches: number;
  /** overlap candidates: the mean floor distance of the compared observations must be at most this (m) */
  overlapDistM: number;
  /** hand-over on the same camera: largest gap between the person's last observation there and the new tracklet (s) */
  sameCameraGapS: number;
  /** hand-over between neighbour cameras: the walking-time window [min_s, max_s] is widened by this on each side (s) */
  slackS: number;
  /**
   * hand-over from a camera the topology does not list as a neighbour (or outside the listed
   * window, or the same camera after sameCameraGapS): allowed up to this gap (s; 0 = never) ...
   */
  unlistedGapS: number;
  /** ... at this extra cost */
  unlistedCost: number;
  /** hand-over: the straight-line speed needed from the person's last position to the tracklet's first one (m/s) */
  maxSpeedMps: number;
  /** hand-over speed gate: position noise forgiven before the speed is computed (m) */
  posSlackM: number;
  /** hand-over spatial cost: the predicted position may be this far off at no gap (m) ... */
  handoverRadiusM: number;
  /** ... plus this much per second of gap (m/s) */
  spreadMps: number;
  /** hand-over: the person's velocity is extrapolated for at most this long (s) */
  predictS: number;
  /** hand-over: spatial cost of the "turned on the way" hypothesis (a straight walk that fits costs less) */
  turnCost: number;
  /** cameras whose last observation of a person is within this of the person's newest one count as "last seen by" (s) */
  lastSeenS: number;
  /** weight of the attribute term (1 - Bhattacharyya coefficient, mean over the compared attributes) */
  attrWeight: number;
  /** weight of the embedding term (cosine distance, clamped to 0..1) */
  embWeight: number;
  /** attributes compared by the appearance term */
  appearanceAttrs: string[];
  /** a side is confident about an attribute with at least this summed confidence ... */
  contradictionVotes: number;
  /** ... and this share for its top value; two confident sides with different top values never link */
  contradictionShare: number;
  /** candidates costing more than this are not linked (a new person starts) */
  maxCost: number;
  /** a person's buffered observations are sent once they span this much frame time (ms) */
  batchMs: number;
  /** a person not observed for this long (linker stream time) is ended; must exceed the neighbours' max_s (s) */
  silenceS: number;
  /** observations kept per linked tracklet, and per person and camera, for overlap checks */
  tailObs: number;
  /** a camera that has not seen a person for this long keeps only its newest observation of them (ms) */
  tailMs: number;
  /** a person's recent observations (all cameras) kept for its position and velocity (ms) */
  recentMs: number;
  /** most observations a pending tracklet keeps (beyond this its oldest ones are dropped) */
  maxBacklog: number;
  /** event-time merge: a camera this far (frame time) behind the newest one is not waited for (ms) */
  liveLagMs: number;
  /** event-time merge: held messages are all released after this much wall time without a message (ms) */
  quietMs: number;
}

export const DEFAULT_LINKER_PARAMS: Readonly<LinkerParams> = Object.freeze({
  minObs: 6,
  overlapDtS: 0.4,
  overlapMatches: 3,
  overlapDistM: 1.2,
  sameCameraGapS: 4,
  slackS: 2,
  unlistedGapS: 30,
  unlistedCost: 0.5,
  maxSpeedMps: 2.5,
  posSlackM: 1,
  handoverRadiusM: 1.5,
  spreadMps: 1,
  predictS: 10,
  turnCost: 0.5,
  lastSeenS: 2,
  attrWeight: 1,
  embWeight: 1,
  appearanceAttrs: ["upper", "lower"],
  contradictionVotes: 1,
  contradictionShare: 0.6,
  maxCost: 1.6,
  batchMs: 1000,
  silenceS: 60,
  tailObs: 25,
  tailMs: 10_000,
  recentMs: 3000,
  maxBacklog: 3000,
  liveLagMs: 30_000,
  quietMs: 5_000,
});

export function linkerParams(p: Partial<LinkerParams> = {}): LinkerParams {
  return { ...DEFAULT_LINKER_PARAMS, appearanceAttrs: [...DEFAULT_LINKER_PARAMS.appearanceAttrs], ...p };
}
