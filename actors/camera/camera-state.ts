import { z } from "zod";
import { FrameMsg } from "../../contracts/track-messages.ts";
import { ByteTracker } from "./byte-tracker.ts";
import { CameraStats } from "./camera-stats.ts";
import { FrameOrder, type FrameOrderOptions } from "./frame-order.ts";
import type { CameraParams } from "./params.ts";
import { RecentOids } from "./recent-oids.ts";
import { decodeTracklets, encodeTracklets, type Tracklet } from "./tracklet.ts";

/**
 * A camera actor's state, and its snapshot encoding (written to KV about every 10 s, so kept
 * compact and bounded: recent frame keys and oids only, a reorder buffer of at most a few seconds,
 * live tracks only, recent seconds of statistics).
 */
export interface CameraStatusInfo {
  state: "online" | "offline";
  /** the heartbeat's time (camera ts, else broker receive time) */
  ts: number;
  fps?: number;
  width?: number;
  height?: number;
  uptime_s?: number;
}

export interface CameraState {
  order: FrameOrder<FrameMsg>;
  oids: RecentOids;
  tracker: ByteTracker;
  /** per track number: floor smoother, pending observations, embedding */
  tracklets: Map<number, Tracklet>;
  stats: CameraStats;
  /** latest status heartbeat (by its ts) */
  status: CameraStatusInfo | null;
  /** latest broker receive time of any message of this camera */
  lastSeen: number | null;
  /** frame time of the last TrackletsMsg sent to the linker (it hears from every camera at least every linkerTickMs) */
  linkerTs: number;
  /** not in the snapshot: the missing calibration was already logged by this actor instance */
  warnedNoGeometry: boolean;
}

const orderOptions = (p: CameraParams): FrameOrderOptions<FrameMsg> =>
  ({ reorderMs: p.cameraReorderMs, maxBuffered: p.maxBufferedFrames, maxBufferedBytes: p.maxBufferedBytes, memoryMs: p.frameMemoryMs, weigh: frameBytes });

/** A frame's JSON size, estimated without serialising it. */
export function frameBytes(f: FrameMsg): number {
  let n = 150;
  for (const d of f.detections) {
    n += 90 + d.oid.length + d.cls.length;
    if (d.attrs) for (const name in d.attrs) n += 40 + name.length + d.attrs[name]!.value.length;
    if (d.embedding) n += 20 * d.embedding.length;
  }
  return n;
}

/** Seconds of statistics kept: enough for the reorder window plus a margin. */
export const statsKeepMs = (p: CameraParams) => p.cameraReorderMs + 10_000;

export function newCameraState(p: CameraParams): CameraState {
  return {
    order: new FrameOrder<FrameMsg>(orderOptions(p)),
    oids: new RecentOids(p.oidWindowMs, p.maxOidChars),
    tracker: new ByteTracker(p),
    tracklets: new Map(),
    stats: new CameraStats(statsKeepMs(p)),
    status: null,
    lastSeen: null,
    linkerTs: 0,
    warnedNoGeometry: false,
  };
}

const StatusSnapshot = z.strictObject({
  state: z.enum(["online", "offline"]),
  ts: z.number().int(),
  fps: z.number().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  uptime_s: z.number().optional(),
});

export const CameraSnapshot = z.strictObject({
  v: z.literal(1),
  order: z.unknown(),
  oids: z.unknown(),
  tracker: z.unknown(),
  tracklets: z.unknown(),
  stats: z.unknown(),
  status: StatusSnapshot.nullable(),
  lastSeen: z.number().int().nullable(),
  linkerTs: z.number().int().default(0),
});
export type CameraSnapshot = z.infer<typeof CameraSnapshot>;

export function encodeCameraState(s: CameraState): CameraSnapshot {
  return {
    v: 1,
    order: s.order.encode(),
    oids: s.oids.encode(),
    tracker: s.tracker.encode(),
    tracklets: encodeTracklets(s.tracklets),
    stats: s.stats.encode(),
    status: s.status,
    lastSeen: s.lastSeen,
    linkerTs: s.linkerTs,
  };
}

export function decodeCameraState(raw: unknown, p: CameraParams): CameraState {
  const s = CameraSnapshot.parse(raw);
  const state: CameraState = {
    order: FrameOrder.decode<FrameMsg>(s.order, orderOptions(p), (x) => FrameMsg.parse(x)),
    oids: RecentOids.decode(s.oids, p.oidWindowMs, p.maxOidChars),
    tracker: ByteTracker.decode(s.tracker, p),
    tracklets: decodeTracklets(s.tracklets),
    stats: CameraStats.decode(s.stats, statsKeepMs(p)),
    status: s.status ? stripUndefined(s.status) : null,
    lastSeen: s.lastSeen,
    linkerTs: s.linkerTs,
    warnedNoGeometry: false,
  };
  return state;
}

function stripUndefined(st: z.infer<typeof StatusSnapshot>): CameraStatusInfo {
  const out: CameraStatusInfo = { state: st.state, ts: st.ts };
  if (st.fps !== undefined) out.fps = st.fps;
  if (st.width !== undefined) out.width = st.width;
  if (st.height !== undefined) out.height = st.height;
  if (st.uptime_s !== undefined) out.uptime_s = st.uptime_s;
  return out;
}
