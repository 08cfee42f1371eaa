import type { TrackUpdate } from "../../contracts/events.ts";
import { ActorKinds, trackEventSubject } from "../../contracts/nats-layout.ts";
import { trackMsgIds, type FrameDetection, type FrameMsg, type TrackletsMsg, type TrackletUpdate } from "../../contracts/track-messages.ts";
import type { KindContext } from "../runtime/define-behavior.ts";
import type { CameraView } from "../../topology/site-geometry.ts";
import type { PairCost, Track } from "./byte-tracker.ts";
import type { CameraMetrics } from "./camera-metrics.ts";
import type { CameraState } from "./camera-state.ts";
import { floorDistance2, floorReach2, footPoint, type FootPoint } from "./floor-track.ts";
import type { CameraParams } from "./params.ts";
import { addEmbedding, addLook, addVotes, embeddingDue, lookDistance, newTracklet, observeFloor, unsentLast } from "./tracklet.ts";

/**
 * Tracks one frame (already in order and not a duplicate) and issues what it caused, with
 * deterministic ids (a replay re-issues the same):
 *
 * - person detections only, each oid once (second de-duplication stage), boxes with positive size;
 * - ByteTrack step (byte-tracker.ts), with pairs vetoed whose foot point is implausibly far on
 *   the floor from the track's predicted position; floor observation of every matched track
 *   (tracklet.ts);
 * - one TrackletsMsg to the site's linker for the confirmed tracks matched in this frame that have
 *   something new: an observation (thinned by tracklet.ts; a newly confirmed track brings its
 *   tentative observations too) or the mean embedding when due, each with the attribute votes
 *   gathered since the previous update; for tracks no longer matched (their last position and
 *   votes) and for announced tracks that ended (split in several messages only when it would not
 *   fit the publish limit);
 * - one TrackUpdate event when confirmed tracks were matched: every frame's smoothed floor position
 *   (not thinned) of those that have one, and the image box of each (its detection's box in this
 *   frame, for camera tiles), also of those without a floor position;
 * - per-second statistics (written at flush).
 *
 * Without a calibration (view undefined) the frame is still tracked, but nothing goes to the linker
 * or the event stream except the end of tracks the linker already knows.
 */
export function trackFrame(
  s: CameraState, f: FrameMsg, view: CameraView | undefined, ctx: KindContext, p: CameraParams, metrics: CameraMetrics,
): void {
  const ts = f.frameTs;
  const kept: FrameDetection[] = [];
  let duplicates = 0;
  let attrCounts: Record<string, number> | undefined;
  for (const d of f.detections) {
    if (d.cls !== "person") continue;
    const b = d.box;
    if (!(b[2] > b[0] && b[3] > b[1])) continue;
    if (s.oids.has(d.oid)) {
      duplicates++;
      continue;
    }
    s.oids.add(d.oid, ts);
    kept.push(d);
    if (d.attrs) {
      attrCounts ??= {};
      for (const name in d.attrs) attrCounts[name] = (attrCounts[name] ?? 0) + 1;
    }
  }
  s.oids.prune();

  const n = kept.length;
  const boxes = new Float64Array(n * 4);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = kept[i]!;
    boxes[i * 4] = d.box[0];
    boxes[i * 4 + 1] = d.box[1];
    boxes[i * 4 + 2] = d.box[2];
    boxes[i * 4 + 3] = d.box[3];
    scores[i] = d.score;
  }
  // foot points on the floor (undefined without a calibration or behind the horizon)
  const feet: Array<FootPoint | undefined> = new Array(n);
  if (view) for (let i = 0; i < n; i++) feet[i] = footPoint(view.toFloor, boxes[i * 4]!, boxes[i * 4 + 1]!, boxes[i * 4 + 2]!, boxes[i * 4 + 3]!, p);
  // how implausible a pair is on the floor: the smaller of the constant-velocity and the
  // walking-reach distances (a stop or a turn breaks the first, not the second)
  const g2 = p.floorMatchSigma * p.floorMatchSigma, v2 = p.floorVetoSigma * p.floorVetoSigma;
  // and how unlike the track's look (upper / lower colours so far) the detection is
  const floorHints = view !== undefined && g2 > 0;
  const pairCost: PairCost | undefined = floorHints || p.lookCostWeight > 0 || p.lookVeto < 1
    ? (t, det) => {
      const tl = s.tracklets.get(t.n);
      if (!tl) return 0;
      let share = 0;
      if (p.lookCostWeight > 0 || p.lookVeto < 1) {
        const look = lookDistance(tl, kept[det]!.attrs, p.lookMinEvidence);
        if (look.max >= p.lookVeto) return 1;
        share = p.lookCostWeight * look.mean;
      }
      const f = tl.floor, z = feet[det];
      if (floorHints && f && z) {
        const d2 = Math.min(floorDistance2(f, ts, z, p.floorAccelStd), floorReach2(f, ts, z, p.walkMaxSpeed));
        if (d2 > v2) return 1;
        share += p.floorCostWeight * Math.min(1, d2 / g2);
      }
      return Math.min(0.99, share);
    }
    : undefined;
  const r = s.tracker.step(ts, boxes, scores, n, pairCost);

  const camera = f.camera;
  const tid = (t: Track) => `${camera}:${t.n}`;
  const updates: TrackletUpdate[] = [];
  const moved: TrackUpdate["tracks"] = [];
  const boxed: NonNullable<TrackUpdate["boxes"]> = [];
  const fresh = r.confirmed.length > 0 ? new Set(r.confirmed) : undefined;

  for (const { track, det } of r.matches) {
    const d = kept[det]!;
    let tl = s.tracklets.get(track.n);
    if (!tl) {
      tl = newTracklet();
      s.tracklets.set(track.n, tl);
    }
    const z = feet[det];
    const floor = z ? observeFloor(tl, ts, z, p) : undefined;
    if (d.embedding) addEmbedding(tl, d.embedding);
    if (d.attrs) addLook(tl, d.attrs);
    if (d.attrs && view) addVotes((tl.votes ??= {}), d.attrs);
    if (track.state === "tentative") {
      if (floor?.obs) tl.pending.push(floor.obs);
      continue;
    }
    if (!view) continue;
    boxed.push([tid(track), d.box[0], d.box[1], d.box[2], d.box[3]]);
    const obsList = fresh?.has(track) ? tl.pending : [];
    tl.pending = [];
    if (floor?.obs) obsList.push(floor.obs);
    const id = tid(track);
    const emb = embeddingDue(tl, ts, p.embeddingEveryMs, !tl.announced);
    // attribute votes ride along with the next observation (or embedding) sent
    if (obsList.length > 0 || emb) {
      const u: TrackletUpdate = { tid: id, obs: obsList };
      if (tl.votes) u.votes = tl.votes;
      if (emb) u.emb = emb;
      updates.push(u);
      tl.votes = null;
      tl.announced = true;
    }
    if (floor) moved.push([id, d.oid, floor.at[1], floor.at[2]]);
  }

  // a track no longer matched: its path ends at its last smoothed position (with its last votes)
  for (const t of r.lost) {
    const tl = s.tracklets.get(t.n);
    if (!tl?.announced) continue;
    const last = unsentLast(tl);
    if (!last && !tl.votes) continue;
    const u: TrackletUpdate = { tid: tid(t), obs: last ? [last] : [] };
    if (tl.votes) u.votes = tl.votes;
    tl.votes = null;
    updates.push(u);
  }
  for (const t of r.ended) {
    const tl = s.tracklets.get(t.n);
    if (tl?.announced) updates.push(tl.votes ? { tid: tid(t), obs: [], votes: tl.votes, ended: true } : { tid: tid(t), obs: [], ended: true });
    s.tracklets.delete(t.n);
  }
  for (const t of r.dropped) s.tracklets.delete(t.n);

  if (view && (updates.length > 0 || ts - s.linkerTs >= p.linkerTickMs)) {
    sendTracklets(ctx, f, updates);
    s.linkerTs = ts;
  }
  if (boxed.length > 0) {
    const ev: TrackUpdate = { type: "track.update", site: f.site, camera, seq: f.seq, frameTs: ts, receivedAt: f.receivedAt, tracks: moved, boxes: boxed };
    ctx.emit(trackEventSubject(f.site, camera), ev, `tu:${camera}:${f.seq}:${ts}`);
  }

  s.stats.frame(ts, n, attrCounts, s.tracker.trackedCount());
  metrics.frames.inc();
  if (n > 0) metrics.detections.inc(n);
  if (duplicates > 0) metrics.duplicateDetections.inc(duplicates);
  if (r.confirmed.length > 0) metrics.tracksConfirmed.inc(r.confirmed.length);
  if (r.ended.length > 0) metrics.tracksEnded.inc(r.ended.length);
  if (!view) metrics.framesWithoutGeometry.inc();
}

/** Keeps each TrackletsMsg well under the actors' publish limit (FOOTFALL_MAX_PAYLOAD, 256 KiB by default). */
export const MAX_TRACKLETS_BYTES = 192 * 1024;

/** A TrackletUpdate's JSON size, estimated. */
function updateBytes(u: TrackletUpdate): number {
  let n = 40 + u.tid.length + 34 * u.obs.length + (u.emb ? 9 * u.emb.length + 8 : 0);
  if (u.votes) for (const name in u.votes) n += 8 + name.length + 24 * Object.keys(u.votes[name]!).length;
  return n;
}

/**
 * One TrackletsMsg per frame (Nats-Msg-Id trackMsgIds.tracklets); only when the updates would not
 * fit (hundreds of tracks with large embeddings) further ones follow, with ":{k}" appended to the id.
 */
function sendTracklets(ctx: KindContext, f: FrameMsg, updates: TrackletUpdate[]): void {
  const id = trackMsgIds.tracklets(f.camera, f.seq, f.frameTs);
  let chunk: TrackletUpdate[] = [], bytes = 0, k = 0;
  const send = () => {
    const msg: TrackletsMsg = { type: "tracklets", site: f.site, camera: f.camera, seq: f.seq, frameTs: f.frameTs, ...(k > 0 ? { part: k } : {}), updates: chunk };
    // ordered: the linker drops a camera's message that comes after a later one of it (event-time-merge.ts)
    ctx.send(ActorKinds.linker, f.site, msg, k === 0 ? id : `${id}:${k}`, { ordered: true });
    k++;
    chunk = [];
    bytes = 0;
  };
  for (const u of updates) {
    const b = updateBytes(u);
    if (chunk.length > 0 && bytes + b > MAX_TRACKLETS_BYTES) send();
    chunk.push(u);
    bytes += b;
  }
  send();
}
