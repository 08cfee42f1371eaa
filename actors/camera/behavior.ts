import type { IPoint } from "influx";
import type { Registry } from "prom-client";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import type { CameraStatusMsg, ChunkMsg, FrameMsg } from "../../contracts/track-messages.ts";
import { M } from "../../contracts/track-store.ts";
import { withCamera, type SiteLookup } from "../../topology/site-geometry.ts";
import { splitId } from "../runtime/actor-id.ts";
import { defineBehavior, type KindContext } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import { msToNs } from "../runtime/point-time.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { cameraMetrics } from "./camera-metrics.ts";
import { decodeCameraState, encodeCameraState, newCameraState, type CameraState, type CameraStatusInfo } from "./camera-state.ts";
import type { Release } from "./frame-order.ts";
import { trackFrame } from "./frame-step.ts";
import { CameraParams } from "./params.ts";

export interface CameraDeps {
  /** camera geometry (homography to the floor) by site and camera */
  sites: SiteLookup;
  /** tuning overrides (params.ts) */
  params?: Partial<CameraParams>;
  /** prom-client registry for the counters (default: prom-client's global one) */
  registry?: Registry;
}

/**
 * camera actor, id "{site}.{camera}": single-camera multi-object tracking of one camera's frames.
 *
 * FrameMsg: duplicates and late frames are counted and dropped, the rest are tracked in seq order
 * (frame-order.ts), each by trackFrame (frame-step.ts), which sends tracklet updates to the site's
 * linker and a track.update event. CameraStatusMsg: one camera_status point, and the latest status
 * kept in the state. ChunkMsg: one video_chunk point.
 *
 * flush: releases a reorder buffer that waited more than cameraReorderMs of wall time (the end of a
 * stream), then writes the per-second statistics of the seconds that changed.
 */
export function cameraBehavior(deps: CameraDeps): ActorBehavior<CameraState> {
  const p = paramsOf(CameraParams, deps.params);
  const metrics = cameraMetrics(deps.registry);
  const kind = ActorKinds.camera;

  /** Tracks the released frames in order and counts the ones refused on the way. */
  const run = (state: CameraState, out: Release<FrameMsg>, ctx: KindContext) => {
    for (const f of out.late) late(state, f, ctx);
    if (out.ready.length === 0) return;
    const first = out.ready[0]!;
    const view = deps.sites.camera(first.site, first.camera);
    if (!view && !state.warnedNoGeometry) {
      state.warnedNoGeometry = true;
      ctx.log.warn({ actor: ctx.id, site: first.site, camera: first.camera },
        "camera has no calibration in the topology (yet): tracking without floor positions, nothing sent to the linker");
    }
    for (const f of out.ready) trackFrame(state, f, view, ctx, p, metrics);
  };

  const late = (state: CameraState, f: FrameMsg, ctx: KindContext) => {
    metrics.lateFrames.inc();
    state.stats.add(f.frameTs, "late");
    ctx.log.debug({ actor: ctx.id, seq: f.seq, frameTs: f.frameTs, last: state.order.last }, "late frame not tracked");
  };

  /** wall time (ctx.now) each actor last got a frame: not state, only when to give up waiting at a stream's end */
  const lastFrameAt = new WeakMap<CameraState, number>();

  const seen = (state: CameraState, receivedAt: number) => {
    if (state.lastSeen === null || receivedAt > state.lastSeen) state.lastSeen = receivedAt;
  };

  const frame = (state: CameraState, f: FrameMsg, ctx: KindContext) => {
    lastFrameAt.set(state, ctx.now());
    const out: Release<FrameMsg> = { ready: [], late: [] };
    const admission = state.order.offer(f, out);
    if (admission === "duplicate") {
      metrics.duplicateFrames.inc();
      state.stats.add(f.frameTs, "duplicates");
      ctx.log.debug({ actor: ctx.id, seq: f.seq, frameTs: f.frameTs }, "duplicate frame ignored");
    } else if (admission === "late") {
      late(state, f, ctx);
    }
    run(state, out, ctx);
  };

  const status = (state: CameraState, m: CameraStatusMsg, ctx: KindContext) => {
    const info: CameraStatusInfo = { state: m.state, ts: m.ts };
    const fields: IPoint["fields"] = { state: m.state };
    if (m.fps !== undefined) fields.fps = info.fps = m.fps;
    if (m.width !== undefined) fields.width = info.width = m.width;
    if (m.height !== undefined) fields.height = info.height = m.height;
    if (m.uptime_s !== undefined) fields.uptime_s = info.uptime_s = m.uptime_s;
    if (!state.status || m.ts >= state.status.ts) state.status = info;
    ctx.write([{ measurement: M.cameraStatus, tags: { site: m.site, camera: m.camera }, fields, timestamp: msToNs(m.ts) }]);
  };

  // a video chunk the store accepted: one point per chunk (a re-sent announcement rewrites the same point)
  const chunk = (c: ChunkMsg, ctx: KindContext) => ctx.write([{
    measurement: M.videoChunk, tags: { site: c.site, camera: c.camera }, timestamp: msToNs(c.start_ms),
    fields: { seq: c.seq, duration_s: c.duration_s, frames: c.frames, bytes: c.bytes, width: c.width, height: c.height, gap_before_ms: c.gap_before_ms },
  }]);

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (m) => `${m.site}.${m.camera}`,
    registry: deps.registry,
    initialState: () => newCameraState(p),

    handle(state, m, ctx) {
      seen(state, m.receivedAt);
      if (m.type === "frame") {
        // a camera without calibration here is looked up in the store before its frames are tracked without floor positions
        return withCamera(deps.sites, m.site, m.camera, () => frame(state, m, ctx), (err) => {
          ctx.log.warn({ actor: ctx.id, site: m.site, err }, "the topology could not be read from the store; tracking on the one this host has");
        });
      } else if (m.type === "camera-status") status(state, m, ctx);
      else chunk(m, ctx);
    },

    flush(state, ctx) {
      const out: Release<FrameMsg> = { ready: [], late: [] };
      // a camera that went quiet (no frame for cameraReorderMs of wall time) will not fill its gaps: track what it holds.
      // While frames keep coming (also a backlog replayed after a crash) gaps are given up by frame time only.
      const quietFor = ctx.now() - (lastFrameAt.get(state) ?? ctx.now());
      if (quietFor > p.cameraReorderMs) state.order.releaseStale(Number.POSITIVE_INFINITY, out);
      run(state, out, ctx);
      const points = state.stats.takePoints(...splitId(ctx.id));
      if (points.length > 0) ctx.write(points);
    },

    wantsFlush: (state) => state.order.size > 0,

    encode: (state) => encodeCameraState(state),
    decode: (raw) => decodeCameraState(raw, p),
  });
}
