import type { StoredTopology } from "../../../contracts/topology.ts";
import type { AttrVotes, FloorObs, TrackletsMsg } from "../../../contracts/track-messages.ts";
import { StaticSiteLookup } from "../../../topology/site-geometry.ts";
import { prng } from "../occupancy/ground-truth.ts";

/**
 * A small site for the camera-pipeline actor tests: a hall (y 0..10) and a shop (y 10..20),
 * both 40 m wide; cam-a and cam-b overlap over the hall, cam-c is 3..10 s walk from cam-b;
 * cam-a defines a counting line "door" across the hall at x = 20 (from (20,0) to (20,10):
 * walking towards +x crosses it from its left to its right, "in").
 */
export const T0 = 1_700_000_000_000;

const calibration = {
  image_points: [[0, 0], [1000, 0], [1000, 1000], [0, 1000]] as [number, number][],
  floor_points: [[0, 0], [40, 0], [40, 20], [0, 20]] as [number, number][],
};

export const topology: Pick<StoredTopology, "site" | "spaces" | "devices"> = {
  site: "mall",
  spaces: [
    { id: "hall", name: "Hall", polygon: [[0, 0], [40, 0], [40, 10], [0, 10]] },
    { id: "shop", name: "Shop", polygon: [[0, 10], [40, 10], [40, 20], [0, 20]] },
  ],
  devices: [
    { id: "cam-a", kind: "camera", calibration, sees: ["hall"], neighbours: [{ camera: "cam-b", min_s: 0, max_s: 0 }],
      lines: [{ id: "door", a: [20, 0], b: [20, 10] }] },
    { id: "cam-b", kind: "camera", calibration, sees: ["hall"], neighbours: [{ camera: "cam-c", min_s: 3, max_s: 10 }] },
    { id: "cam-c", kind: "camera", calibration, sees: ["shop"] },
  ],
};

export const sites = new StaticSiteLookup([topology]);

/** One camera's view of one walker: tracklet `tid` on `camera` from `from` to `to` (ms), at pos(t). */
export interface Sighting {
  camera: string;
  tid: string;
  from: number;
  to: number;
  pos: (t: number) => [number, number];
  /** votes each observation carries */
  votes?: AttrVotes;
  emb?: number[];
}

export interface FeedOptions {
  /** frame period (ms) */
  frameMs?: number;
  /** observations a tracklet has when the camera confirms it (its first update carries them all) */
  confirmAfter?: number;
  /** a tracklet ends this long after its last observation */
  endAfterMs?: number;
  /** position noise (m, uniform +-) */
  jitter?: number;
  seed?: number;
}

/**
 * The TrackletsMsgs the camera actors would send for these sightings: one per camera frame (empty
 * when nothing changed) from the camera's first sighting to its last tracklet's end, merged
 * across cameras in frame time order.
 */
export function feed(sightings: readonly Sighting[], o: FeedOptions = {}): TrackletsMsg[] {
  const frameMs = o.frameMs ?? 200, confirmAfter = o.confirmAfter ?? 3, endAfterMs = o.endAfterMs ?? 2000, jitter = o.jitter ?? 0;
  const rnd = prng(o.seed ?? 1);
  const cameras = [...new Set(sightings.map((s) => s.camera))].sort();
  const out: TrackletsMsg[] = [];
  for (const camera of cameras) {
    const mine = sightings.filter((s) => s.camera === camera);
    const start = Math.min(...mine.map((s) => s.from)), end = Math.max(...mine.map((s) => s.to)) + endAfterMs + frameMs;
    const pending = new Map<string, { obs: FloorObs[]; votes: AttrVotes }>();
    const confirmed = new Set<string>();
    const done = new Set<string>();
    let seq = 0;
    for (let t = Math.ceil(start / frameMs) * frameMs; t <= end; t += frameMs) {
      const updates: TrackletsMsg["updates"] = [];
      for (const s of mine) {
        if (done.has(s.tid)) continue;
        if (t >= s.from && t <= s.to) {
          const [x, y] = s.pos(t);
          const o: FloorObs = [t, round(x + (rnd() * 2 - 1) * jitter), round(y + (rnd() * 2 - 1) * jitter)];
          const p = pending.get(s.tid) ?? { obs: [], votes: {} };
          p.obs.push(o);
          for (const [attr, values] of Object.entries(s.votes ?? {})) {
            const into = (p.votes[attr] ??= {});
            for (const [v, c] of Object.entries(values)) into[v] = (into[v] ?? 0) + c;
          }
          pending.set(s.tid, p);
          if (confirmed.has(s.tid) || p.obs.length >= confirmAfter) {
            confirmed.add(s.tid);
            updates.push({ tid: s.tid, obs: p.obs, ...(Object.keys(p.votes).length ? { votes: p.votes } : {}), ...(s.emb ? { emb: s.emb } : {}) });
            pending.delete(s.tid);
          }
        } else if (t > s.to + endAfterMs) {
          const p = pending.get(s.tid);
          updates.push({ tid: s.tid, obs: confirmed.has(s.tid) ? [] : (p?.obs ?? []), ended: true });
          done.add(s.tid);
        }
      }
      out.push({ type: "tracklets", site: "mall", camera, seq: seq++, frameTs: t, updates });
    }
  }
  return out.sort((a, b) => a.frameTs - b.frameTs || (a.camera < b.camera ? -1 : 1));
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** A walker moving in a straight line at constant speed from `a` at t0 to `b` at t1. */
export const line = (t0: number, a: [number, number], t1: number, b: [number, number]) => (t: number): [number, number] => {
  const f = (t - t0) / (t1 - t0);
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])];
};

export const blue: AttrVotes = { upper: { blue: 0.8 }, lower: { black: 0.7 } };
export const red: AttrVotes = { upper: { red: 0.8 }, lower: { black: 0.7 } };
