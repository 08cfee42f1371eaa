import { escape, type InfluxDB } from "influx";
import { M } from "../../contracts/track-store.ts";
import { RP } from "../../contracts/influx-layout.ts";
import { msLit } from "./track-reader.ts";

/**
 * Camera health from the camera actors' series:
 *   camera_status  per heartbeat (or last will): state, fps, width, height, uptime_s
 *   camera_stats   per second: frames, detections, duplicates, late, tracks
 *
 * state       "offline" after its last will (until a newer heartbeat or frame), "silent" when
 *             nothing (heartbeat or frame) was heard for SILENT_AFTER_MS, "online" otherwise;
 *             "unknown" when the camera was never heard
 * last_seen   the newest heartbeat or frame second
 * fps, detections_per_s   frames and detections over the last minute, per second
 * reported_fps            the fps of the last heartbeat
 */

export const SILENT_AFTER_MS = 60_000;
const WINDOW_MS = 60_000;

const q = escape.quoted;
const numOrNull = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export interface CameraHealth {
  camera: string;
  state: "online" | "offline" | "silent" | "unknown";
  last_seen: string | null;
  fps: number;
  detections_per_s: number;
  reported_fps: number | null;
  resolution: [number, number] | null;
}

export class CameraHealthReader {
  constructor(private readonly influx: InfluxDB, private readonly database: string) {}

  private from(m: string): string {
    return `${q(this.database)}.${q(RP.raw)}.${q(m)}`;
  }

  /** Health of the given cameras and of any other camera with data at this site, sorted by id. */
  async health(site: string, cameras: readonly string[], now: number): Promise<CameraHealth[]> {
    const siteIs = `${q("site")} = ${escape.stringLit(site)}`;
    const [status, lastStats, recent] = await this.influx.query<Record<string, unknown>>([
      `SELECT "state", "fps", "width", "height" FROM ${this.from(M.cameraStatus)} WHERE ${siteIs} GROUP BY ${q("camera")} ORDER BY time DESC LIMIT 1`,
      `SELECT last("frames") AS "frames" FROM ${this.from(M.cameraStats)} WHERE ${siteIs} GROUP BY ${q("camera")}`,
      `SELECT sum("frames") AS "frames", sum("detections") AS "detections" FROM ${this.from(M.cameraStats)} ` +
        `WHERE ${siteIs} AND time > ${msLit(now - WINDOW_MS)} AND time <= ${msLit(now)} GROUP BY ${q("camera")}`,
    ], { database: this.database });
    const byCamera = new Map<string, { status?: Record<string, unknown>; statusAt?: number; statsAt?: number; frames?: number; detections?: number }>();
    const entry = (c: unknown) => {
      const id = String(c);
      let e = byCamera.get(id);
      if (!e) byCamera.set(id, (e = {}));
      return e;
    };
    for (const c of cameras) entry(c);
    for (const r of status ?? []) { const e = entry(r.camera); e.status = r; e.statusAt = r.time.getTime(); }
    for (const r of lastStats ?? []) entry(r.camera).statsAt = r.time.getTime();
    for (const r of recent ?? []) {
      const e = entry(r.camera);
      e.frames = numOrNull(r.frames) ?? 0;
      e.detections = numOrNull(r.detections) ?? 0;
    }
    const out: CameraHealth[] = [];
    for (const [camera, e] of byCamera) {
      const seen = Math.max(e.statusAt ?? -Infinity, e.statsAt ?? -Infinity);
      const reported = e.status?.state;
      let state: CameraHealth["state"] = "unknown";
      // an offline last will holds until a newer heartbeat or frame is heard
      if (reported === "offline" && !((e.statsAt ?? -Infinity) > (e.statusAt ?? -Infinity))) state = "offline";
      else if (Number.isFinite(seen)) state = now - seen > SILENT_AFTER_MS ? "silent" : "online";
      const w = numOrNull(e.status?.width);
      const h = numOrNull(e.status?.height);
      out.push({
        camera, state,
        last_seen: Number.isFinite(seen) ? new Date(seen).toISOString() : null,
        fps: (e.frames ?? 0) / (WINDOW_MS / 1000),
        detections_per_s: (e.detections ?? 0) / (WINDOW_MS / 1000),
        reported_fps: numOrNull(e.status?.fps),
        resolution: w !== null && h !== null ? [w, h] : null,
      });
    }
    return out.sort((a, b) => (a.camera < b.camera ? -1 : a.camera > b.camera ? 1 : 0));
  }
}
