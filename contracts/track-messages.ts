import { z } from "zod";
import { DeviceId, PersonId, SiteId, SpaceId } from "./ids.ts";
import { AttrName } from "./detection.ts";
import { LineId } from "./topology.ts";

/**
 * Actor messages of the camera pipeline (stream FF_ACTORS, JSON bodies). The flow:
 *
 *   broker --FrameMsg/CameraStatusMsg--> camera actor "{site}.{camera}"   (single-camera tracking)
 *   broker --ChunkMsg------------------> camera actor                      (video chunk stored: coverage series)
 *   camera --TrackletsMsg-------------> linker actor "{site}"              (cross-camera linking)
 *   linker --PersonObsMsg/PersonEndMsg-> person actor "{site}.{person}"    (path, distance, attributes)
 *   reprocess job --PersonAttrsMsg----> person actor                        (attributes extracted later)
 *   person --ZonePersonMsg------------> zone actor "{site}.{space}"        (camera occupancy, dwell, lines)
 *
 * Every one is produced while handling a message (never on a timer), so a replay after a crash
 * produces the same messages with the same Nats-Msg-Ids and JetStream drops the repeats.
 */

const ms = z.number().int();
const metres = z.number().min(-1e6).max(1e6);

/** One detection as the camera actor receives it (validated by the broker against contracts/detection.ts). */
export const FrameDetection = z.strictObject({
  oid: z.string().min(1).max(128),
  cls: z.string().min(1).max(32),
  score: z.number().min(0).max(1),
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  attrs: z.record(AttrName, z.strictObject({ value: z.string(), conf: z.number().min(0).max(1) })).optional(),
  embedding: z.array(z.number()).optional(),
});
export type FrameDetection = z.infer<typeof FrameDetection>;

/** broker -> camera actor: one processed frame of a camera (possibly with no detections). */
export const FrameMsg = z.strictObject({
  type: z.literal("frame"),
  site: SiteId,
  camera: DeviceId,
  seq: z.number().int().nonnegative(),
  frameTs: ms,
  /** broker receive time (epoch ms): latency figures */
  receivedAt: ms,
  detections: z.array(FrameDetection),
});
export type FrameMsg = z.infer<typeof FrameMsg>;

/** broker -> camera actor: a status heartbeat, or the camera's last will ("offline"). */
export const CameraStatusMsg = z.strictObject({
  type: z.literal("camera-status"),
  site: SiteId,
  camera: DeviceId,
  state: z.enum(["online", "offline"]),
  /** the camera's ts, else the broker's receive time */
  ts: ms,
  fps: z.number().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  uptime_s: z.number().optional(),
  receivedAt: ms,
});
export type CameraStatusMsg = z.infer<typeof CameraStatusMsg>;

/** broker -> camera actor: the camera agent announced a video chunk the chunk store accepted. */
export const ChunkMsg = z.strictObject({
  type: z.literal("chunk"),
  site: SiteId,
  camera: DeviceId,
  seq: z.number().int().nonnegative(),
  start_ms: ms,
  end_ms: ms,
  duration_s: z.number().min(0),
  frames: z.number().int().min(0),
  bytes: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  gap_before_ms: z.number().int().min(0),
  receivedAt: ms,
});
export type ChunkMsg = z.infer<typeof ChunkMsg>;

/** JetStream de-duplication id of a chunk announcement. */
export const chunkMsgId = (camera: string, seq: number) => `${camera}:c${seq}`;

/** [ts (epoch ms), x, y (floor metres)] */
export const FloorObs = z.tuple([ms, metres, metres]);
export type FloorObs = z.infer<typeof FloorObs>;

/** Attribute evidence: attribute -> value -> summed confidence. Summing votes is commutative. */
export const AttrVotes = z.record(AttrName, z.record(z.string(), z.number().min(0)));
export type AttrVotes = z.infer<typeof AttrVotes>;

/** What a camera actor tells the linker about one confirmed tracklet after a frame. */
export const TrackletUpdate = z.strictObject({
  /** "{camera}:{n}": unique per camera for good */
  tid: z.string().min(1).max(160),
  /** new smoothed floor positions since the previous update (in time order) */
  obs: z.array(FloorObs),
  /** attribute evidence added by the detections of these observations */
  votes: AttrVotes.optional(),
  /** mean appearance embedding so far, when the camera sends embeddings */
  emb: z.array(z.number()).optional(),
  /** the tracklet ended (lost for longer than the tracker's buffer): no more updates follow */
  ended: z.boolean().optional(),
});
export type TrackletUpdate = z.infer<typeof TrackletUpdate>;

/** camera actor -> linker actor "{site}": tracklet changes caused by one frame. */
export const TrackletsMsg = z.strictObject({
  type: z.literal("tracklets"),
  site: SiteId,
  camera: DeviceId,
  seq: z.number().int().nonnegative(),
  frameTs: ms,
  /** the k-th message of a frame whose updates did not fit one (absent: the first) */
  part: z.number().int().positive().optional(),
  updates: z.array(TrackletUpdate),
});
export type TrackletsMsg = z.infer<typeof TrackletsMsg>;

/** linker -> person actor: observations of tracklets linked to this person. */
export const PersonObsMsg = z.strictObject({
  type: z.literal("person-obs"),
  site: SiteId,
  person: PersonId,
  tracklets: z.array(z.strictObject({
    tid: z.string().min(1).max(160),
    camera: DeviceId,
    obs: z.array(FloorObs),
    votes: AttrVotes.optional(),
  })),
});
export type PersonObsMsg = z.infer<typeof PersonObsMsg>;

/** linker -> person actor: nobody was linked to this person for the silence period; the track is over. */
export const PersonEndMsg = z.strictObject({
  type: z.literal("person-end"),
  site: SiteId,
  person: PersonId,
  /** the linker's stream time when it ended the person */
  at: ms,
});
export type PersonEndMsg = z.infer<typeof PersonEndMsg>;

/** reprocess job -> person actor: attribute evidence extracted later from stored data. */
export const PersonAttrsMsg = z.strictObject({
  type: z.literal("person-attrs"),
  site: SiteId,
  person: PersonId,
  /** the job that extracted it; one message per (job, person), the person actor applies each job once */
  job: z.string().min(1).max(128),
  votes: AttrVotes,
});
export type PersonAttrsMsg = z.infer<typeof PersonAttrsMsg>;

/**
 * person actor -> zone actor: this person's complete visits to the space and crossings of the
 * space's counting lines, as of `version` (the number of observations the person actor had
 * folded in). The zone keeps, per person, the highest version: replacing is idempotent and
 * arrival order does not matter.
 */
export const ZonePersonMsg = z.strictObject({
  type: z.literal("zone-person"),
  site: SiteId,
  space: SpaceId,
  person: PersonId,
  version: z.number().int().nonnegative(),
  /** [enter, leave) in epoch ms; leave of an open visit = last observation + 1 s */
  visits: z.array(z.tuple([ms, ms])),
  /** [line id, ts, +1 in / -1 out] */
  crossings: z.array(z.tuple([LineId, ms, z.union([z.literal(1), z.literal(-1)])])),
  /** the person's track is over: the last visit is closed */
  ended: z.boolean(),
});
export type ZonePersonMsg = z.infer<typeof ZonePersonMsg>;

/** Nats-Msg-Ids of these messages (deterministic, see above). */
export const trackMsgIds = {
  tracklets: (camera: string, seq: number, frameTs: number) => `trk:${camera}:${seq}:${frameTs}`,
  personObs: (site: string, person: string, batch: number) => `pobs:${site}:${person}:${batch}`,
  personEnd: (site: string, person: string) => `pend:${site}:${person}`,
  personAttrs: (site: string, person: string, job: string) => `pattr:${site}:${person}:${job}`,
  zonePerson: (site: string, space: string, person: string, version: number) => `zp:${site}:${space}:${person}:${version}`,
};
