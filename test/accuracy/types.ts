import { z } from "zod";

/**
 * Input and output types of the tracking-accuracy metrics (test/accuracy/). The inputs are kept
 * independent of the simulator's ground-truth recorder and of the system's storage: the bench
 * adapts both into these shapes.
 *
 *  ground truth  TruthFrame per processed camera frame, TruthPerson per simulated walker
 *  system        HypothesisFrame per TrackUpdate event (a TrackUpdate is one as it is),
 *                SystemPerson per person record (API / InfluxDB `person` point)
 *
 * A frame is keyed by (camera, frameTs): frameTs is the frame's capture time as the camera sent it
 * in `frame_ts` (epoch ms), which TrackUpdate carries unchanged. Detection ids (oid) are unique per
 * camera, tracklet ids (tid) are unique per camera for good (contracts/track-messages.ts).
 */

/** Ground truth of one frame a camera processed (also frames in which nobody was detected). */
export interface TruthFrame {
  camera: string;
  /** frame_ts as sent by the camera, epoch ms */
  frameTs: number;
  /** true person ids inside the camera's view in this frame, detected or not */
  visible: readonly string[];
  /** every detection sent for this frame: [oid, true person id, or null for a false positive] */
  detections: readonly (readonly [oid: string, person: string | null])[];
}

/** What the system said about one frame: structurally a TrackUpdate event (contracts/events.ts). */
export interface HypothesisFrame {
  camera: string;
  frameTs: number;
  /** [tid, oid of the detection the track matched in this frame, ...anything (x, y)] */
  tracks: readonly (readonly [tid: string, oid: string, ...rest: unknown[]])[];
}

/** One system person track (the fields of contracts/track-store.ts PersonFields the metrics use). */
export interface SystemPerson {
  person: string;
  /** [tid, camera, first ts, last ts] of every tracklet linked into this person */
  tracklets: readonly (readonly [tid: string, camera: string, first: number, last: number])[];
  distance_m: number;
}

/** One true (simulated) person. */
export interface TruthPerson {
  person: string;
  /** true attributes, e.g. {upper: "blue", lower: "black", shoes: "white"} */
  attrs: Readonly<Record<string, string>>;
  /** true distance walked, metres (the figure the system's distance_m estimates) */
  distance_m: number;
}

/** A person record as read from the API or InfluxDB: `tracklets` still JSON. Validated on the way in. */
const PersonRecord = z.object({
  person: z.string().min(1),
  tracklets: z.string(),
  distance_m: z.number().nonnegative(),
});
const Tracklets = z.array(z.tuple([z.string(), z.string(), z.number(), z.number()]));

/** Parses a person record (PersonFields-like, tracklets as JSON text) into a SystemPerson. */
export function systemPersonFromRecord(record: unknown): SystemPerson {
  const r = PersonRecord.parse(record);
  let raw: unknown;
  try {
    raw = JSON.parse(r.tracklets);
  } catch (e) {
    throw new Error(`person ${r.person}: tracklets is not JSON (${(e as Error).message})`);
  }
  return { person: r.person, tracklets: Tracklets.parse(raw), distance_m: r.distance_m };
}

/** CLEAR MOT counts and identity (IDF1) figures of one evaluation scope (a camera, or all cameras). */
export interface MotMetrics {
  /** frames evaluated (union of truth and hypothesis frames) */
  frames: number;
  /** ground-truth objects summed over frames (a person visible in a frame of a camera counts once) */
  gt: number;
  /** hypotheses summed over frames */
  hyp: number;
  /** GT objects matched to a hypothesis */
  matches: number;
  fn: number;
  fp: number;
  idsw: number;
  /** fragmentations: a GT object's matching resumed after visible-but-unmatched frames */
  fm: number;
  /** hypotheses whose oid is not a detection of their frame (a frame-key mismatch if not 0) */
  unknownOids: number;
  /** distinct GT ids / hypothesis ids */
  gtIds: number;
  hypIds: number;
  /** GT ids matched in >= 80 % / <= 20 % of their visible frames; the rest partially tracked */
  mt: number;
  pt: number;
  ml: number;
  /** 1 - (fn + fp + idsw) / gt; NaN when gt = 0 */
  mota: number;
  /** matches / gt and matches / hyp (NaN on 0 / 0) */
  recall: number;
  precision: number;
  idtp: number;
  idfp: number;
  idfn: number;
  idf1: number;
  idp: number;
  idr: number;
  /** the optimal one-to-one GT id <-> hypothesis id assignment: [gt id, hyp id, frames shared] */
  assignment: (readonly [gt: string, hyp: string, overlap: number])[];
}

/** Everything evaluateTracking finds. */
export interface TrackingEvaluation {
  perCamera: Map<string, MotMetrics>;
  /** every camera at once: GT ids persons, hypothesis ids system person ids */
  crossCamera: MotMetrics;
  /** system person id (or unlinked-tracklet id) -> true person id (or null) -> hypotheses */
  identities: Map<string, Map<string | null, number>>;
  /** true persons visible in at least one frame of any camera */
  seen: Set<string>;
}

export interface PathQueryMetrics {
  filter: Readonly<Record<string, string>>;
  returned: number;
  /** returned tracks whose majority identity has every attribute of the filter */
  truePositives: number;
  precision: number;
  /** true persons (seen) having the attributes / those found by at least one returned track */
  relevant: number;
  found: number;
  recall: number;
}

export interface DistanceMetrics {
  /** system tracks counted and their mean distance_m */
  systemTracks: number;
  systemMean: number;
  /** seen true persons and their mean true distance */
  truePersons: number;
  trueMean: number;
  /** (systemMean - trueMean) / trueMean */
  relativeError: number;
  /** pairs of the cross-camera identity assignment that have both distances */
  pairs: number;
  /** mean |sys - true| over pairs, metres; mean |sys - true| / true over pairs with true > 0 */
  pairMeanAbsError: number;
  pairMeanRelError: number;
}

/** One sampled instant of one zone: the camera-based count against the true count. */
export interface ZoneSample {
  zone: string;
  at: number;
  system: number;
  truth: number;
}

export interface ZoneOccupancyMetrics {
  samples: number;
  /** mean |system - truth| */
  meanAbsError: number;
  maxAbsError: number;
  /** sum |system - truth| / sum truth */
  relativeAbsError: number;
  /** (sum system - sum truth) / sum truth */
  relativeTotalError: number;
  perZone: Map<string, { samples: number; meanAbsError: number; relativeAbsError: number }>;
}
