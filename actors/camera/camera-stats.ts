import type { IPoint } from "influx";
import { z } from "zod";
import { M } from "../../contracts/track-store.ts";
import { msToNs } from "../runtime/point-time.ts";

/**
 * Per-second aggregates of one camera (contracts/track-store.ts): camera_stats (frames,
 * detections, duplicates, late, tracks) and camera_attrs (detections that carried each attribute),
 * keyed by the second of FRAME time. Seconds changed since the last flush are written again with
 * their totals so far (same series and time: the point is overwritten), never one point per
 * detection.
 *
 * Only recent seconds are kept (keepMs behind the newest second counted). A count for a second
 * already forgotten (a very late duplicate) goes to the oldest second still kept, so a written
 * point is never overwritten with partial totals.
 */
interface Second {
  frames: number;
  detections: number;
  duplicates: number;
  late: number;
  /** confirmed tracks tracked after the second's last frame */
  tracks: number;
  attrs: Record<string, number>;
  dirty: boolean;
}

export type StatField = "frames" | "detections" | "duplicates" | "late";

const SecondRow = z.tuple([
  z.number().int(), z.number().int(), z.number().int(), z.number().int(), z.number().int(), z.number().int(),
  z.record(z.string(), z.number().int()), z.boolean(),
]);
export const CameraStatsSnapshot = z.strictObject({
  floor: z.number().int().nullable(),
  s: z.array(SecondRow),
});
export type CameraStatsSnapshot = z.infer<typeof CameraStatsSnapshot>;

export class CameraStats {
  private seconds = new Map<number, Second>();
  /** the oldest second still kept (counts for older seconds land here); null before the first */
  private floor: number | null = null;
  private newest = Number.NEGATIVE_INFINITY;

  constructor(private readonly keepMs: number) {}

  /** The second (start, ms) a count at frame time ts is booked under. */
  private at(ts: number): Second {
    let sec = ts - (((ts % 1000) + 1000) % 1000);
    if (this.floor !== null && sec < this.floor) sec = this.floor;
    let s = this.seconds.get(sec);
    if (!s) {
      s = { frames: 0, detections: 0, duplicates: 0, late: 0, tracks: 0, attrs: {}, dirty: false };
      this.seconds.set(sec, s);
      if (this.floor === null) this.floor = sec;
    }
    if (sec > this.newest) this.newest = sec;
    s.dirty = true;
    return s;
  }

  add(ts: number, field: StatField, n = 1): void {
    if (n === 0) return;
    this.at(ts)[field] += n;
  }

  /** One processed frame: its person detections, the attributes they carried, confirmed tracks after it. */
  frame(ts: number, detections: number, attrs: Record<string, number> | undefined, tracks: number): void {
    const s = this.at(ts);
    s.frames++;
    s.detections += detections;
    s.tracks = tracks;
    if (attrs) for (const name in attrs) s.attrs[name] = (s.attrs[name] ?? 0) + attrs[name]!;
  }

  /** Points of the seconds changed since the last call (their totals so far); then forgets old seconds. */
  takePoints(site: string, camera: string): IPoint[] {
    const points: IPoint[] = [];
    const sorted = [...this.seconds.keys()].sort((a, b) => a - b);
    for (const sec of sorted) {
      const s = this.seconds.get(sec)!;
      if (!s.dirty) continue;
      s.dirty = false;
      const timestamp = msToNs(sec);
      points.push({
        measurement: M.cameraStats, tags: { site, camera }, timestamp,
        fields: { frames: s.frames, detections: s.detections, duplicates: s.duplicates, late: s.late, tracks: s.tracks },
      });
      for (const attr of Object.keys(s.attrs).sort()) {
        points.push({ measurement: M.cameraAttrs, tags: { site, camera, attr }, timestamp, fields: { n: s.attrs[attr]! } });
      }
    }
    // forget written seconds older than keepMs behind the newest; the oldest kept one becomes the floor
    const cut = this.newest - this.keepMs;
    for (const sec of sorted) {
      if (sec >= cut || this.seconds.get(sec)!.dirty) break;
      this.seconds.delete(sec);
    }
    if (this.seconds.size > 0) this.floor = Math.min(...this.seconds.keys());
    else if (Number.isFinite(this.newest)) this.floor = this.newest;
    return points;
  }

  encode(): CameraStatsSnapshot {
    return {
      floor: this.floor,
      s: [...this.seconds].map(([sec, s]) => [sec, s.frames, s.detections, s.duplicates, s.late, s.tracks, s.attrs, s.dirty]),
    };
  }

  static decode(raw: unknown, keepMs: number): CameraStats {
    const snap = CameraStatsSnapshot.parse(raw);
    const st = new CameraStats(keepMs);
    st.floor = snap.floor;
    for (const [sec, frames, detections, duplicates, late, tracks, attrs, dirty] of snap.s) {
      st.seconds.set(sec, { frames, detections, duplicates, late, tracks, attrs: { ...attrs }, dirty });
      if (sec > st.newest) st.newest = sec;
    }
    if (st.floor !== null && st.floor > st.newest) st.newest = st.floor;
    return st;
  }
}
