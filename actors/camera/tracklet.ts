import { z } from "zod";
import type { AttrVotes, FloorObs, FrameDetection } from "../../contracts/track-messages.ts";
import { startFloor, stepFloor, type FloorFilter, type FootPoint } from "./floor-track.ts";
import { packF32, packF64, unpackF32, unpackF64 } from "./packed-floats.ts";
import type { CameraParams } from "./params.ts";

/**
 * What the camera actor keeps per track beside its box filter: the floor smoother, the
 * observations it sent, what a tentative track saw before it was confirmed (sent all at once at
 * confirmation, so the linker's path starts at the first sighting), the running mean appearance
 * embedding, and whether the linker has heard of the track (only then is its end announced).
 *
 * Observations sent to the linker are thinned with a dead band: a new one when the smoothed
 * position moved obsMinMoveM from the last one sent; otherwise, every obsMaxGapMs, the last
 * position sent again at the new time (the person is still there). Every frame's smoothed
 * position differs from the previous one by residual jitter of a few centimetres, which adds up
 * over a path (a walk at 25 fps would measure ~10 % long, a person standing still would "walk");
 * the dead band keeps lengths true and still people still, at a resolution of obsMinMoveM. When
 * a track stops being matched, its last smoothed position is sent (the path ends where it was
 * last seen).
 */
export interface Tracklet {
  floor: FloorFilter | null;
  /** the last observation sent (or queued as pending) */
  sent: FloorObs | null;
  /** the latest smoothed position, [ts, x, y] */
  last: FloorObs | null;
  /** observations of a tentative track, sent when it is confirmed */
  pending: FloorObs[];
  /** attribute evidence not sent yet (of a tentative track, or since the last update) */
  votes: AttrVotes | null;
  /** all colour evidence of the track so far (upper and lower): its look, for association */
  look: AttrVotes | null;
  /** running mean embedding (float32, so snapshots stay small and exact) and how many went into it */
  emb: Float32Array | null;
  embN: number;
  /** frame time the embedding was last sent */
  embSent: number | null;
  /** the linker got an update of this track */
  announced: boolean;
}

export const newTracklet = (): Tracklet =>
  ({ floor: null, sent: null, last: null, pending: [], votes: null, look: null, emb: null, embN: 0, embSent: null, announced: false });

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

export type FloorParams = Pick<CameraParams, "floorAccelStd" | "floorGateSigma" | "obsMinMoveM" | "obsMaxGapMs">;

/**
 * Feeds the foot point of a matched detection (floor-track.ts footPoint) to the track's floor
 * smoother. Returns the smoothed position [ts, x, y] (millimetres) and, when one is due (see the
 * dead band above), the observation to send.
 */
export function observeFloor(t: Tracklet, ts: number, z: FootPoint, p: FloorParams): { at: FloorObs; obs: FloorObs | undefined } {
  if (!t.floor) t.floor = startFloor(ts, z);
  else stepFloor(t.floor, ts, z, p.floorAccelStd, p.floorGateSigma);
  const at: FloorObs = [ts, round3(t.floor[1]!), round3(t.floor[2]!)];
  t.last = at;
  const s = t.sent;
  let obs: FloorObs | undefined;
  if (!s || Math.hypot(at[1] - s[1], at[2] - s[2]) >= p.obsMinMoveM) obs = at;
  else if (ts - s[0] >= p.obsMaxGapMs) obs = [ts, s[1], s[2]];
  if (obs) t.sent = obs;
  return { at, obs };
}

/** The latest smoothed position when it was not sent yet (a track that stopped being matched). */
export function unsentLast(t: Tracklet): FloorObs | undefined {
  if (!t.last || (t.sent && t.sent[0] >= t.last[0])) return undefined;
  t.sent = t.last;
  return t.last;
}

/** Adds a detection's attributes (name -> value, conf) to votes (name -> value -> summed conf). */
export function addVotes(votes: AttrVotes, attrs: NonNullable<FrameDetection["attrs"]>): void {
  for (const name in attrs) {
    const a = attrs[name]!;
    const byValue = (votes[name] ??= {});
    byValue[a.value] = (byValue[a.value] ?? 0) + a.conf;
  }
}

/** The attributes that describe a person's look (what the tracker compares). */
export const LOOK_ATTRIBUTES = ["upper", "lower"] as const;

/** Adds a detection's colour attributes to the track's look. */
export function addLook(t: Tracklet, attrs: NonNullable<FrameDetection["attrs"]>): void {
  for (const name of LOOK_ATTRIBUTES) {
    const a = attrs[name];
    if (!a) continue;
    const byValue = ((t.look ??= {})[name] ??= {});
    byValue[a.value] = (byValue[a.value] ?? 0) + a.conf;
  }
}

/**
 * How unlike the track's look a detection is, in [0, 1]: per look attribute both have, the
 * detection's confidence times the share of the track's evidence for OTHER values; `mean` over
 * those attributes and the largest one (`max`). 0 for an attribute the track has less than
 * minEvidence (summed confidence) for.
 */
export function lookDistance(t: Tracklet, attrs: FrameDetection["attrs"], minEvidence: number): { mean: number; max: number } {
  if (!t.look || !attrs) return NO_DISTANCE;
  let sum = 0, n = 0, max = 0;
  for (const name of LOOK_ATTRIBUTES) {
    const a = attrs[name], byValue = t.look[name];
    if (!a || !byValue) continue;
    let total = 0;
    for (const v in byValue) total += byValue[v]!;
    if (total < minEvidence) continue;
    const d = a.conf * (1 - (byValue[a.value] ?? 0) / total);
    sum += d;
    if (d > max) max = d;
    n++;
  }
  return n === 0 ? NO_DISTANCE : { mean: sum / n, max };
}

const NO_DISTANCE = Object.freeze({ mean: 0, max: 0 });

/** Folds an embedding into the running mean (a different length starts the mean again). */
export function addEmbedding(t: Tracklet, e: readonly number[]): void {
  if (!t.emb || t.emb.length !== e.length) {
    t.emb = Float32Array.from(e);
    t.embN = 1;
    return;
  }
  t.embN++;
  const k = 1 / t.embN, m = t.emb;
  for (let i = 0; i < m.length; i++) m[i] = m[i]! + (e[i]! - m[i]!) * k;
}

/** The mean embedding to send now (rounded to 1e-4), or undefined when none is due. */
export function embeddingDue(t: Tracklet, ts: number, everyMs: number, force: boolean): number[] | undefined {
  if (!t.emb) return undefined;
  if (!force && t.embSent !== null && ts - t.embSent < everyMs) return undefined;
  t.embSent = ts;
  return Array.from(t.emb, round4);
}

const Obs = z.tuple([z.number(), z.number(), z.number()]);
const Votes = z.record(z.string(), z.record(z.string(), z.number()));
/** [n, floor filter (packed), sent, last, pending, votes, mean embedding (packed), embN, embSent, announced, look] */
const TrackletRow = z.tuple([
  z.number().int(),
  z.string().nullable(),
  Obs.nullable(),
  Obs.nullable(),
  z.array(Obs),
  Votes.nullable(),
  z.string().nullable(),
  z.number().int(),
  z.number().nullable(),
  z.boolean(),
  Votes.nullable().default(null),
]);
export const TrackletsSnapshot = z.array(TrackletRow);
export type TrackletsSnapshot = z.infer<typeof TrackletsSnapshot>;

export function encodeTracklets(m: ReadonlyMap<number, Tracklet>): TrackletsSnapshot {
  return [...m].map(([n, t]) => [
    n, t.floor ? packF64(t.floor) : null, t.sent, t.last, t.pending, t.votes, t.emb ? packF32(t.emb) : null, t.embN, t.embSent, t.announced, t.look,
  ]);
}

export function decodeTracklets(raw: unknown): Map<number, Tracklet> {
  const rows = TrackletsSnapshot.parse(raw);
  return new Map(rows.map(([n, floor, sent, last, pending, votes, emb, embN, embSent, announced, look]) =>
    [n, { floor: floor === null ? null : unpackF64(floor), sent, last, pending, votes, look, emb: emb === null ? null : unpackF32(emb), embN, embSent, announced }]));
}
