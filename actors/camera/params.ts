import { z } from "zod";
import { DEFAULTS } from "../../infra/config.ts";

/**
 * The camera actor's tuning: frame ordering, ByteTrack association, track life cycle and the
 * floor smoother. Defaults suit 5-30 fps cameras looking at walking people; every time is in
 * milliseconds of FRAME time (the camera's frame_ts), never wall time, except where noted.
 */
export const CameraParams = z.strictObject({
  /** frames wait this long (frame time) for a missing earlier frame before the gap is given up;
   *  at flush, a buffer whose oldest frame was received this long ago (wall time) is released */
  cameraReorderMs: z.number().int().min(0).max(600_000).default(DEFAULTS.cameraReorderMs),
  /** most frames held in the reorder buffer; beyond it the oldest gap is given up */
  maxBufferedFrames: z.number().int().min(1).max(100_000).default(1_000),
  /** most bytes (JSON, estimated) held in the reorder buffer; beyond it the oldest gap is given up */
  maxBufferedBytes: z.number().int().min(1).max(100_000_000).default(2_000_000),
  /** detection ids remembered for the second de-duplication stage (frame time) */
  oidWindowMs: z.number().int().min(0).max(3_600_000).default(60_000),
  /** most characters of detection ids remembered (oldest forgotten first): bounds memory and snapshot size */
  maxOidChars: z.number().int().min(0).max(50_000_000).default(500_000),
  /** processed (seq, frame_ts) pairs remembered to tell a duplicate frame from a late one */
  frameMemoryMs: z.number().int().min(0).max(3_600_000).default(30_000),

  /** detections at or above this score take part in the first association */
  highThresh: z.number().min(0).max(1).default(0.5),
  /** detections in [lowThresh, highThresh) only extend tracks (second association) */
  lowThresh: z.number().min(0).max(1).default(0.1),
  /** unmatched high detections at or above this score start a tentative track */
  newTrackThresh: z.number().min(0).max(1).default(0.6),
  /** gate of the first association (confirmed and lost tracks vs high detections), on 1 - IoU */
  matchGate: z.number().min(0).max(1).default(0.8),
  /** gate of the second association (tracks still unmatched vs low detections), on 1 - IoU */
  lowMatchGate: z.number().min(0).max(1).default(0.5),
  /** gate of tentative tracks vs the high detections left over, on 1 - IoU */
  tentativeGate: z.number().min(0).max(1).default(0.7),
  /** consecutive matched frames that confirm a tentative track (1 = confirmed at birth) */
  minHits: z.number().int().min(1).max(100).default(2),
  /** a confirmed track unmatched for longer than this ends (frame time) */
  lostMs: z.number().int().min(0).max(600_000).default(2_000),
  /** frame rate the box filter's noise figures are tuned for (ByteTrack's 30 fps); scales noise by dt */
  refFps: z.number().positive().max(1_000).default(30),

  /** box jitter as a share of the box width / height (1 sigma), for the floor measurement noise */
  boxJitter: z.number().min(0).max(1).default(0.04),
  /** floor measurement noise floor (metres, 1 sigma) */
  floorMinStd: z.number().min(0).max(10).default(0.05),
  /** walking acceleration noise of the floor smoother (m/s², 1 sigma) */
  floorAccelStd: z.number().min(0).max(100).default(1.0),
  /** a floor measurement further than this many sigmas from the prediction is down-weighted */
  floorGateSigma: z.number().positive().max(100).default(4),
  /** a foot point far from where a track's person can be makes the pair less worth matching: it
   *  loses the share floorCostWeight x min(1, d² / floorMatchSigma²) of its IoU worth, d the
   *  Mahalanobis distance (the smaller of constant-velocity prediction and walking reach);
   *  floorMatchSigma 0 turns floor hints off */
  floorMatchSigma: z.number().min(0).max(100).default(4),
  floorCostWeight: z.number().min(0).max(0.99).default(0.5),
  /** ... and beyond floorVetoSigma it is never matched (another person at another depth) */
  floorVetoSigma: z.number().positive().max(1000).default(3),
  /** a detection whose colours (upper, lower) are unlike the track's look so far loses the share
   *  lookCostWeight x lookDistance of its worth (tracklet.ts lookDistance: the detection's
   *  confidence times the track's evidence share for other colours); 0 turns it off */
  lookCostWeight: z.number().min(0).max(0.99).default(0.6),
  /** ... and a detection is never matched to the track when, for one colour, its confidence
   *  times the track's evidence share for other colours is at least this (a confidently
   *  different garment); 1 turns the veto off */
  lookVeto: z.number().min(0).max(1).default(0.6),
  /** the look counts only once the track has this much evidence (summed confidence) per attribute */
  lookMinEvidence: z.number().min(0).max(1000).default(1.5),
  /** fastest walking speed (m/s) for the walking-reach distance */
  walkMaxSpeed: z.number().positive().max(20).default(2),

  /** a new observation goes to the linker when the smoothed position moved at least this far (metres) from the last one sent */
  obsMinMoveM: z.number().min(0).max(100).default(0.5),
  /** ... or when this long passed since the last one sent (frame time; the position then is the last one sent) */
  obsMaxGapMs: z.number().int().min(0).max(3_600_000).default(1_000),

  /** the linker hears from the camera at least this often (frame time), an empty TrackletsMsg if
   *  nothing changed: its event-time merge of all cameras must not wait on a camera nobody walks past */
  linkerTickMs: z.number().int().min(100).max(60_000).default(1_000),
  /** a tracklet's mean embedding is re-sent at most this often (frame time); also sent at confirmation */
  embeddingEveryMs: z.number().int().min(0).max(3_600_000).default(1_000),
}).refine((p) => p.lowThresh <= p.highThresh, { message: "lowThresh must not exceed highThresh", path: ["lowThresh"] });
export type CameraParams = z.output<typeof CameraParams>;
