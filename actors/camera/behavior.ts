import type { IPoint } from "influx";
import type { Registry } from "prom-client";
import { z } from "zod";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { CameraStatusMsg, ChunkMsg, FrameMsg } from "../../contracts/track-messages.ts";
import { M } from "../../contracts/track-store.ts";
import { msToNs } from "../runtime/point-time.ts";
import type { ActorBehavior, ActorContext } from "../runtime/types.ts";
import type { SiteLookup } from "../../topology/site-geometry.ts";
import { cameraMetrics } from "./camera-metrics.ts";
import { decodeCameraState, encodeCameraState, newCameraState, type CameraState, type CameraStatusInfo } from "./camera-state.ts";
import type { Release } from "./frame-order.ts";
import { trackFrame } from "./frame-step.ts";
import { cameraParams, type CameraParams } from "./params.ts";

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
 * kept in the state. Invalid or misrouted messages are logged, counted and skipped, never thrown.
 *
 * flush: releases a reorder buffer that waited more than reorderMs of wall time (the end of a
 * stream), then writes the per-second statistics of the seconds that changed.
 */
export function cameraBehavior(deps: CameraDeps): ActorBehavior<CameraState> {
  const p = cameraParams(deps.params);
  const metrics = cameraMetrics(deps.registry);
  const kind = ActorKinds.camera;

  const skip = (ctx: ActorContext, reason: string, detail: Record<string, unknown>, message: string) => {
    metrics.skipped.inc({ reason });
    ctx.log.warn({ actor: ctx.id, reason, ...detail }, message);
  };

  /** Tracks the released frames in order and counts the ones refused on the way. */
  const run = (state: CameraState, out: Release<FrameMsg>, ctx: ActorContext) => {
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

  const late = (state: CameraState, f: FrameMsg, ctx: ActorContext) => {
    metrics.lateFrames.inc();
    state.stats.add(f.frameTs, "late");
    ctx.log.debug({ actor: ctx.id, seq: f.seq, frameTs: f.frameTs, last: state.order.last }, "late frame not tracked");
  };

  /** wall time (ctx.now) each actor last got a frame: not state, only when to give up waiting at a stream's end */
  const lastFrameAt = new WeakMap<CameraState, number>();

  const seen = (state: CameraState, receivedAt: number) => {
    if (state.lastSeen === null || receivedAt > state.lastSeen) state.lastSeen = receivedAt;
  };

  return {
    kind,
    initialState: () => newCameraState(p),

    handle(state, body, ctx) {
      const type = typeof body === "object" && body !== null ? (body as { type?: unknown }).type : undefined;
      if (type === "frame") {
        const parsed = FrameMsg.safeParse(body);
        if (!parsed.success) return skip(ctx, "invalid", { error: z.prettifyError(parsed.error) }, "invalid frame message skipped");
        const f = parsed.data;
        if (`${f.site}.${f.camera}` !== ctx.id) return skip(ctx, "misrouted", { site: f.site, camera: f.camera }, "frame of another camera skipped");
        seen(state, f.receivedAt);
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
        return;
      }
      if (type === "camera-status") {
        const parsed = CameraStatusMsg.safeParse(body);
        if (!parsed.success) return skip(ctx, "invalid", { error: z.prettifyError(parsed.error) }, "invalid camera status message skipped");
        const m = parsed.data;
        if (`${m.site}.${m.camera}` !== ctx.id) return skip(ctx, "misrouted", { site: m.site, camera: m.camera }, "status of another camera skipped");
        seen(state, m.receivedAt);
        const info: CameraStatusInfo = { state: m.state, ts: m.ts };
        const fields: IPoint["fields"] = { state: m.state };
        if (m.fps !== undefined) fields.fps = info.fps = m.fps;
        if (m.width !== undefined) fields.width = info.width = m.width;
        if (m.height !== undefined) fields.height = info.height = m.height;
        if (m.uptime_s !== undefined) fields.uptime_s = info.uptime_s = m.uptime_s;
        if (!state.status || m.ts >= state.status.ts) state.status = info;
        ctx.write([{ measurement: M.cameraStatus, tags: { site: m.site, camera: m.camera }, fields, timestamp: msToNs(m.ts) }]);
        return;
      }
      if (type === "chunk") {
        // a video chunk the store accepted: one point per chunk (a re-sent announcement rewrites the same point)
        const parsed = ChunkMsg.safeParse(body);
        if (!parsed.success) return skip(ctx, "invalid", { error: z.prettifyError(parsed.error) }, "invalid chunk message skipped");
        const c = parsed.data;
        if (`${c.site}.${c.camera}` !== ctx.id) return skip(ctx, "misrouted", { site: c.site, camera: c.camera }, "chunk of another camera skipped");
        seen(state, c.receivedAt);
        ctx.write([{
          measurement: M.videoChunk, tags: { site: c.site, camera: c.camera }, timestamp: msToNs(c.start_ms),
          fields: { seq: c.seq, duration_s: c.duration_s, frames: c.frames, bytes: c.bytes, width: c.width, height: c.height, gap_before_ms: c.gap_before_ms },
        }]);
        return;
      }
      skip(ctx, "invalid", { type: typeof type === "string" ? type : typeof type }, "camera actor message of an unknown type skipped");
    },

    flush(state, ctx) {
      const out: Release<FrameMsg> = { ready: [], late: [] };
      // a camera that went quiet (no frame for reorderMs of wall time) will not fill its gaps: track what it holds.
      // While frames keep coming (also a backlog replayed after a crash) gaps are given up by frame time only.
      const quietFor = ctx.now() - (lastFrameAt.get(state) ?? ctx.now());
      if (quietFor > p.reorderMs) state.order.releaseStale(Number.POSITIVE_INFINITY, out);
      run(state, out, ctx);
      const dot = ctx.id.indexOf(".");
      const points = state.stats.takePoints(ctx.id.slice(0, dot), ctx.id.slice(dot + 1));
      if (points.length > 0) ctx.write(points);
    },

    wantsFlush: (state) => state.order.size > 0,

    encode: (state) => encodeCameraState(state),
    decode: (raw) => decodeCameraState(raw, p),
  };
}
