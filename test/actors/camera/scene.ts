import type { Point } from "../../../contracts/geometry.ts";
import type { FrameDetection, FrameMsg } from "../../../contracts/track-messages.ts";
import { StaticSiteLookup } from "../../../topology/site-geometry.ts";
import { mulberry32, type Rng } from "../../../firmware-sim/random.ts";

/**
 * Test scenes for the camera actor: a pinhole camera over a floor (the ground truth the
 * calibration is made from), people walking on the floor rendered into image boxes with jitter,
 * misses and false positives, and the FrameMsgs a broker would store.
 */

export const SITE = "mall";
export const CAMERA = "cam-1";
export const T0 = 1_700_000_000_000;

/** Camera 4 m above (0, -2), looking along +y, tilted 30° down, 900 px focal length, 1280 x 720. */
export class Pinhole {
  readonly width = 1280;
  readonly height = 720;
  private readonly c: [number, number, number] = [0, -2, 4];
  private readonly f: [number, number, number];
  private readonly r: [number, number, number] = [1, 0, 0];
  private readonly d: [number, number, number];
  private readonly focal = 900;

  constructor(tiltDeg = 30) {
    const t = (tiltDeg * Math.PI) / 180;
    this.f = [0, Math.cos(t), -Math.sin(t)];
    this.d = [0, -Math.sin(t), -Math.cos(t)];
  }

  /** World point (metres, z up) -> [u, v, depth]. */
  project(x: number, y: number, z: number): [number, number, number] {
    const q = [x - this.c[0], y - this.c[1], z - this.c[2]] as const;
    const xc = q[0] * this.r[0] + q[1] * this.r[1] + q[2] * this.r[2];
    const yc = q[0] * this.d[0] + q[1] * this.d[1] + q[2] * this.d[2];
    const zc = q[0] * this.f[0] + q[1] * this.f[1] + q[2] * this.f[2];
    return [this.width / 2 + (this.focal * xc) / zc, this.height / 2 + (this.focal * yc) / zc, zc];
  }

  /** The box of a person 1.7 m tall and 0.45 m wide standing at floor point p. */
  box(p: Point): [number, number, number, number] {
    const [u, vb, depth] = this.project(p[0], p[1], 0);
    const [, vt] = this.project(p[0], p[1], 1.7);
    const w = (this.focal * 0.45) / depth;
    return [u - w / 2, vt, u + w / 2, vb];
  }

  /** Calibration pairs from a grid of floor points (exact). */
  calibration(): { image_points: Point[]; floor_points: Point[] } {
    const floor: Point[] = [];
    for (const x of [-3, 0, 3]) for (const y of [3, 7, 11]) floor.push([x, y]);
    const image = floor.map((p) => { const [u, v] = this.project(p[0], p[1], 0); return [u, v] as Point; });
    return { image_points: image, floor_points: floor };
  }
}

export const pinhole = new Pinhole();

export const sites = (cam = pinhole) => new StaticSiteLookup([{
  site: SITE,
  spaces: [],
  devices: [{ id: CAMERA, kind: "camera", calibration: cam.calibration() }],
}]);

/** A person's floor position at time t (ms since the scene start), or undefined when out of view. */
export type Walk = (t: number) => Point | undefined;

/** Straight walk from a to b at speed m/s starting at `start` ms; out of view before and after. */
export const straight = (a: Point, b: Point, speed: number, start = 0): Walk => {
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
  const dur = (len / speed) * 1000;
  return (t) => {
    const s = (t - start) / dur;
    if (s < 0 || s > 1) return undefined;
    return [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s];
  };
};

export interface RenderOptions {
  fps: number;
  frames: number;
  /** box jitter, share of box size (1 sigma) */
  jitter?: number;
  /** probability a visible person is not detected in a frame */
  miss?: number;
  /** false positives per frame (expected), each appears once */
  falsePositives?: number;
  /** score of true detections */
  score?: (person: number, frame: number, rnd: Rng) => number;
  seed?: number;
  /** per-frame time jitter (ms, uniform +-), to make fps variable */
  tsJitterMs?: number;
  /** a person whose box is covered this much (share of its area) by a nearer person's box is not detected */
  occlusion?: number;
}

export interface TruthDet { frame: number; person: number; oid: string; at: Point }

export interface RenderedScene {
  frames: FrameMsg[];
  /** oid -> the person (index into walks) it shows; false positives are absent */
  truth: Map<string, TruthDet>;
}

const gauss = (rnd: Rng) => {
  const u = 1 - rnd(), v = rnd();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
};

/** Renders walkers into frames as a smart camera would publish them (receivedAt = frameTs + 50 ms). */
export function render(walks: Walk[], o: RenderOptions, cam = pinhole): RenderedScene {
  const rnd = mulberry32(o.seed ?? 1);
  const frames: FrameMsg[] = [];
  const truth = new Map<string, TruthDet>();
  const dt = 1000 / o.fps;
  for (let k = 0; k < o.frames; k++) {
    const t = Math.round(k * dt + (o.tsJitterMs ? (rnd() * 2 - 1) * o.tsJitterMs : 0));
    const detections: FrameDetection[] = [];
    const visible = walks.map((walk) => walk(t));
    const boxes = visible.map((at) => (at ? cam.box(at) : undefined));
    const covered = (i: number) => boxes.some((other, j) => {
      const b = boxes[i]!;
      if (!other || j === i || other[3] <= b[3]) return false;
      const iw = Math.min(b[2], other[2]) - Math.max(b[0], other[0]), ih = Math.min(b[3], other[3]) - Math.max(b[1], other[1]);
      return iw > 0 && ih > 0 && (iw * ih) / ((b[2] - b[0]) * (b[3] - b[1])) > o.occlusion!;
    });
    visible.forEach((at, person) => {
      if (!at) return;
      if (o.miss && rnd() < o.miss) return;
      if (o.occlusion !== undefined && covered(person)) return;
      const b = boxes[person]!;
      const w = b[2] - b[0], h = b[3] - b[1];
      const j = o.jitter ?? 0;
      const box: [number, number, number, number] = [
        b[0] + gauss(rnd) * j * w, b[1] + gauss(rnd) * j * h, b[2] + gauss(rnd) * j * w, b[3] + gauss(rnd) * j * h,
      ];
      const oid = `${CAMERA}:${k}:${person}`;
      const score = o.score ? o.score(person, k, rnd) : 0.8 + rnd() * 0.15;
      detections.push({ oid, cls: "person", score, box });
      truth.set(oid, { frame: k, person, oid, at });
    });
    if (o.falsePositives) {
      let n = 0;
      while (rnd() < o.falsePositives / (1 + o.falsePositives) && n < 5) {
        const u = 100 + rnd() * 1000, v = 300 + rnd() * 350;
        detections.push({ oid: `${CAMERA}:${k}:fp${n}`, cls: "person", score: 0.5 + rnd() * 0.4, box: [u, v - 150, u + 50, v] });
        n++;
      }
    }
    frames.push({ type: "frame", site: SITE, camera: CAMERA, seq: k, frameTs: T0 + t, receivedAt: T0 + t + 50, detections });
  }
  return { frames, truth };
}

/** Boxes and scores of a frame in the tracker's packed form. */
export function packed(dets: ReadonlyArray<{ box: readonly number[]; score: number }>): { boxes: Float64Array; scores: Float64Array; count: number } {
  const boxes = new Float64Array(dets.length * 4);
  const scores = new Float64Array(dets.length);
  dets.forEach((d, i) => {
    boxes.set(d.box.slice(0, 4), i * 4);
    scores[i] = d.score;
  });
  return { boxes, scores, count: dets.length };
}

/**
 * People walking both ways along a corridor 7 m long, keeping right (lanes 0.2-0.8 m either side
 * of its centre line), 0.9-1.5 m/s, starting at random times over `seconds`. "across": the
 * corridor runs across the view at 6.5 m (passing people are at different depths, their boxes
 * overlap); "along": it runs away from the camera (passing people side by side).
 */
export function corridor(orient: "across" | "along", people: number, seconds: number, seed: number): Walk[] {
  const rnd = mulberry32(seed);
  const walks: Walk[] = [];
  for (let i = 0; i < people; i++) {
    const dir = rnd() < 0.5 ? 1 : -1;
    const lane = (dir > 0 ? -1 : 1) * (0.2 + rnd() * 0.6);
    const speed = 0.9 + rnd() * 0.6, start = rnd() * (seconds - 8) * 1000;
    walks.push(orient === "across"
      ? straight([-3.5 * dir, 6.5 + lane], [3.5 * dir, 6.5 + lane], speed, start)
      : straight([lane, dir > 0 ? 2.5 : 11], [lane, dir > 0 ? 11 : 2.5], speed, start));
  }
  return walks;
}
