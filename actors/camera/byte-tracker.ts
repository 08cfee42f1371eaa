import { z } from "zod";
import { assignFlat } from "./assignment.ts";
import { BOX_FILTER_SIZE, boxOf, freezeHeight, initiateBox, predictBox, updateBox, type BoxFilter } from "./kalman-box.ts";
import { iouCost } from "./iou.ts";
import { packF64, unpackF64 } from "./packed-floats.ts";
import type { CameraParams } from "./params.ts";

/**
 * Single-camera multi-object tracking, ByteTrack-style (Zhang et al. 2022), on image boxes:
 *
 *  1. every track's box filter is predicted to the frame's time (real dt; a lost track's height
 *     is frozen while it coasts);
 *  2. first association: confirmed tracks (tracked and lost) vs detections with score >= highThresh,
 *     cost 1 - IoU, Hungarian with gate matchGate; a lost track that matches is tracked again;
 *  3. second association: the tracks of step 2 that were tracked in the previous frame and are still
 *     unmatched vs detections with lowThresh <= score < highThresh, gate lowMatchGate (stricter):
 *     low-score boxes (occlusion, blur) extend tracks but never start or revive one;
 *     tracked tracks still unmatched become lost;
 *  4. tentative tracks vs the high detections left, gate tentativeGate; a tentative track is
 *     confirmed after minHits consecutive matched frames and dropped the first time it is not matched;
 *  5. high detections still unmatched with score >= newTrackThresh start tentative tracks
 *     (confirmed at once when minHits is 1);
 *  6. lost tracks unmatched for longer than lostMs (frame time) end.
 *
 * An optional pair cost (step's `pairCost`) ranks and vetoes the pairs the IoU gates admit: the
 * camera actor uses floor positions through the homography (frame-step.ts) to keep a track from
 * jumping to a person at another depth whose box overlaps.
 *
 * Track numbers come from a counter in the state. Every step is a deterministic function of the
 * state and the frame, and the snapshot (encode) is lossless.
 */

export type TrackState = "tentative" | "tracked" | "lost";

export interface Track {
  /** per-camera track number (tid "{camera}:{n}") */
  n: number;
  state: TrackState;
  /** box filter (kalman-box.ts) */
  kf: BoxFilter;
  /** frame time the filter was last predicted to */
  ts: number;
  /** frame time of the last matched detection */
  seen: number;
  /** matched frames (consecutive while tentative) */
  hits: number;
  /** frame time of the first detection */
  born: number;
}

/** What one frame did to the tracks. */
export interface StepResult {
  /** tracks matched in this frame and the index of their detection, in track order (older first) */
  matches: Array<{ track: Track; det: number }>;
  /** tracks confirmed in this frame (also in matches) */
  confirmed: Track[];
  /** confirmed tracks not matched in this frame after being matched in the previous one */
  lost: Track[];
  /** confirmed tracks that ended in this frame (lost for longer than lostMs) */
  ended: Track[];
  /** tentative tracks dropped in this frame */
  dropped: Track[];
}

const STATE_CODE: Record<TrackState, number> = { tentative: 0, tracked: 1, lost: 2 };
const CODE_STATE: TrackState[] = ["tentative", "tracked", "lost"];

/** Encoded tracker: next track number and one row per track [n, state, ts, seen, hits, born, filter (packed-floats)]. */
export const TrackerSnapshot = z.strictObject({
  next: z.number().int().positive(),
  tracks: z.array(z.tuple([
    z.number().int(), z.number().int().min(0).max(2), z.number().int(), z.number().int(), z.number().int(), z.number().int(), z.string(),
  ])),
});
export type TrackerSnapshot = z.infer<typeof TrackerSnapshot>;

/**
 * What the camera actor knows beyond the image about a (track, detection) pair: how implausible
 * it is on the floor, in [0, 1]. A pair the IoU gate admits loses that share of its worth
 * (gate - (1 - IoU)) to the solver; 1 or more: the pair is never matched.
 */
export type PairCost = (track: Track, det: number) => number;

export type TrackerParams = Pick<CameraParams,
  "highThresh" | "lowThresh" | "newTrackThresh" | "matchGate" | "lowMatchGate" | "tentativeGate" | "minHits" | "lostMs" | "refFps">;

export class ByteTracker {
  /** live tracks, oldest first */
  tracks: Track[] = [];
  /** the next track number */
  next = 1;
  /** the pair cost of the frame being stepped */
  private pairCost: PairCost | undefined;

  constructor(private readonly p: TrackerParams) {}

  /** Confirmed tracks matched in the latest frame. */
  trackedCount(): number {
    let n = 0;
    for (const t of this.tracks) if (t.state === "tracked") n++;
    return n;
  }

  /**
   * One frame at frame time ts: boxes holds 4 numbers [x1, y1, x2, y2] per detection, scores one
   * per detection, count detections in all.
   */
  step(ts: number, boxes: Float64Array, scores: ArrayLike<number>, count: number, pairCost?: PairCost): StepResult {
    const p = this.p;
    this.pairCost = pairCost;
    const tracks = this.tracks;
    const nt = tracks.length;

    const tb = new Float64Array(nt * 4);
    for (let i = 0; i < nt; i++) {
      const t = tracks[i]!;
      if (t.state === "lost") freezeHeight(t.kf);
      if (ts > t.ts) {
        predictBox(t.kf, (ts - t.ts) / 1000, p.refFps);
        t.ts = ts;
      }
      boxOf(t.kf, tb, i * 4);
    }

    const high: number[] = [], low: number[] = [];
    for (let d = 0; d < count; d++) {
      const s = scores[d]!;
      if (s >= p.highThresh) high.push(d);
      else if (s >= p.lowThresh) low.push(d);
    }
    /** detection matched to each track, -1 for none */
    const detOf = new Int32Array(nt).fill(-1);
    const taken = new Uint8Array(count);

    // 2. confirmed tracks vs high detections
    const pool: number[] = [];
    for (let i = 0; i < nt; i++) if (tracks[i]!.state !== "tentative") pool.push(i);
    this.associate(tb, pool, boxes, high, p.matchGate, detOf, taken);

    // 3. tracks tracked until now and still unmatched vs low detections
    const rest: number[] = [];
    for (const i of pool) if (detOf[i] === -1 && tracks[i]!.state === "tracked") rest.push(i);
    this.associate(tb, rest, boxes, low, p.lowMatchGate, detOf, taken);

    // 4. tentative tracks vs the high detections left
    const tentative: number[] = [];
    for (let i = 0; i < nt; i++) if (tracks[i]!.state === "tentative") tentative.push(i);
    const highLeft = high.filter((d) => !taken[d]);
    this.associate(tb, tentative, boxes, highLeft, p.tentativeGate, detOf, taken);
    this.pairCost = undefined;

    const result: StepResult = { matches: [], confirmed: [], lost: [], ended: [], dropped: [] };
    const kept: Track[] = [];
    for (let i = 0; i < nt; i++) {
      const t = tracks[i]!;
      const d = detOf[i]!;
      if (d >= 0) {
        const b = d * 4;
        updateBox(t.kf, boxes[b]!, boxes[b + 1]!, boxes[b + 2]!, boxes[b + 3]!);
        t.seen = ts;
        t.hits++;
        if (t.state === "tentative") {
          if (t.hits >= p.minHits) {
            t.state = "tracked";
            result.confirmed.push(t);
          }
        } else {
          t.state = "tracked";
        }
        result.matches.push({ track: t, det: d });
        kept.push(t);
      } else if (t.state === "tentative") {
        result.dropped.push(t);
      } else {
        if (t.state === "tracked") result.lost.push(t);
        t.state = "lost";
        if (ts - t.seen > p.lostMs) result.ended.push(t);
        else kept.push(t);
      }
    }

    // 5. new tracks
    for (const d of highLeft) {
      if (taken[d] || scores[d]! < p.newTrackThresh) continue;
      const b = d * 4;
      const t: Track = {
        n: this.next++,
        state: p.minHits <= 1 ? "tracked" : "tentative",
        kf: initiateBox(boxes[b]!, boxes[b + 1]!, boxes[b + 2]!, boxes[b + 3]!, p.refFps),
        ts, seen: ts, hits: 1, born: ts,
      };
      if (t.state === "tracked") result.confirmed.push(t);
      result.matches.push({ track: t, det: d });
      kept.push(t);
    }
    this.tracks = kept;
    return result;
  }

  /** Hungarian on 1 - IoU between the listed tracks and detections; records matches in detOf / taken. */
  private associate(
    tb: Float64Array, rows: number[], boxes: Float64Array, cols: number[], gate: number,
    detOf: Int32Array, taken: Uint8Array,
  ): void {
    if (rows.length === 0 || cols.length === 0) return;
    const cost = iouCost(tb, rows, boxes, cols);
    const extra = this.pairCost;
    if (extra) {
      // a pair is worth (gate - cost) to the solver; the floor takes away the share extra() of it
      for (let r = 0; r < rows.length; r++) {
        const t = this.tracks[rows[r]!]!;
        for (let c = 0; c < cols.length; c++) {
          const i = r * cols.length + c;
          const x = cost[i]!;
          if (!(x <= gate)) continue;
          const e = extra(t, cols[c]!);
          cost[i] = e < 1 ? x + e * (gate - x) : Number.NaN;
        }
      }
    }
    const r2c = assignFlat(cost, rows.length, cols.length, gate);
    for (let r = 0; r < rows.length; r++) {
      const c = r2c[r]!;
      if (c < 0) continue;
      detOf[rows[r]!] = cols[c]!;
      taken[cols[c]!] = 1;
    }
  }

  encode(): TrackerSnapshot {
    return {
      next: this.next,
      tracks: this.tracks.map((t) => [t.n, STATE_CODE[t.state], t.ts, t.seen, t.hits, t.born, packF64(t.kf)]),
    };
  }

  static decode(raw: unknown, p: TrackerParams): ByteTracker {
    const s = TrackerSnapshot.parse(raw);
    const tr = new ByteTracker(p);
    tr.next = s.next;
    tr.tracks = s.tracks.map(([n, code, ts, seen, hits, born, kf]) => {
      const filter = unpackF64(kf);
      if (filter.length !== BOX_FILTER_SIZE) throw new Error(`track ${n}: box filter of ${filter.length} numbers`);
      return { n, state: CODE_STATE[code]!, ts, seen, hits, born, kf: filter };
    });
    return tr;
  }
}
