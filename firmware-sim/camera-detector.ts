import type { EmbeddingModel } from "./camera-embedding.ts";
import { COLOURS, type Colour, type DetectionFrameIn } from "../contracts/detection.ts";
import type { Point } from "../contracts/geometry.ts";
import { gaussian } from "./camera-mall.ts";
import type { MallCamera } from "./camera-mall-plan.ts";
import { CameraModel, type RenderedPerson } from "./camera-model.ts";
import { chance, pickOne, shuffle, uniform, type Rng } from "./random.ts";

/**
 * The person detector inside a simulated smart camera: renders the people in view into image
 * boxes and makes the mistakes real detectors make (misses, occlusion, false positives, box
 * jitter, uncertain scores, colour confusion). Sending faults (duplicates, late batches) belong
 * to the firmware's uplink and are configured here too so one object holds every fault rate.
 */
export interface CameraFaults {
  /** share of visible, unoccluded people not detected in a frame (default 0.10) */
  missRate: number;
  /** a person whose box is covered by at least this share by one nearer person's box is not detected (default 0.6; > 1 disables) */
  occlusionCover: number;
  /** probability that a frame holds one false-positive box (default 0.03) */
  falsePositiveRate: number;
  /** false-positive scores, uniform in this range (default [0.1, 0.55]) */
  falsePositiveScore: [number, number];
  /** standard deviation of every box edge, as a share of the box's width or height (default 0.03) */
  jitter: number;
  /** share of true detections with a low score in lowScore (default 0.15); the others score in highScore */
  lowScoreRate: number;
  lowScore: [number, number];
  highScore: [number, number];
  /** share of colour attributes (each of upper and lower) reported as a similar colour (default 0.15) */
  attrConfusionRate: number;
  /** confidence of a right colour, and of a confused one (defaults [0.55, 0.95] and [0.3, 0.6]) */
  attrConf: [number, number];
  confusedConf: [number, number];
  /** share of frame messages sent a second time, byte-identical, up to 1 s later (default 0.05) */
  duplicateRate: number;
  /** probability per frame that the uplink starts holding frames back (default 0.002: every ~100 s at 5 fps) */
  lateBatchRate: number;
  /** frames held back in a batch (default [5, 20]; fewer when maxLateMs needs it) */
  lateBatchFrames: [number, number];
  /** the first held frame goes out at most this late, after at least one later frame (default 3000 ms) */
  maxLateMs: number;
}

export const DEFAULT_FAULTS: CameraFaults = {
  missRate: 0.1,
  occlusionCover: 0.6,
  falsePositiveRate: 0.03,
  falsePositiveScore: [0.1, 0.55],
  jitter: 0.03,
  lowScoreRate: 0.15,
  lowScore: [0.15, 0.5],
  highScore: [0.5, 0.95],
  attrConfusionRate: 0.15,
  attrConf: [0.55, 0.95],
  confusedConf: [0.3, 0.6],
  duplicateRate: 0.05,
  lateBatchRate: 0.002,
  lateBatchFrames: [5, 20],
  maxLateMs: 3000,
};

/** A perfect camera (people hidden behind others are still detected): for tests of everything else. */
export const NO_FAULTS: CameraFaults = {
  ...DEFAULT_FAULTS,
  missRate: 0, occlusionCover: 2, falsePositiveRate: 0, jitter: 0, lowScoreRate: 0, attrConfusionRate: 0,
  duplicateRate: 0, lateBatchRate: 0,
};

/** Colours a detector (or a person looking at a small image) mistakes a colour for. */
export const SIMILAR_COLOURS: Record<Colour, readonly Colour[]> = {
  black: ["grey", "brown"],
  white: ["grey", "beige"],
  grey: ["white", "black"],
  red: ["orange", "pink"],
  orange: ["red", "yellow"],
  yellow: ["orange", "beige"],
  green: ["blue", "grey"],
  blue: ["purple", "grey"],
  purple: ["blue", "pink"],
  pink: ["red", "purple"],
  brown: ["beige", "black"],
  beige: ["brown", "white"],
};

export const confuseColour = (rng: Rng, c: Colour): Colour => pickOne(rng, SIMILAR_COLOURS[c]);

/** A person the detector may see. */
export interface PersonInView {
  id: string;
  x: number;
  y: number;
  heightM: number;
  upper: Colour;
  lower: Colour;
}

export type DetectionOut = DetectionFrameIn["detections"][number];

/** One rendered frame: the detections to publish and what really was there. */
export interface DetectorOutput {
  detections: DetectionOut[];
  visible: string[];
  occluded: string[];
  /** [oid, person id | null] per detection, in the order of `detections` */
  truth: Array<[string, string | null]>;
  missed: number;
  falsePositives: number;
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;

function overlapShare(front: RenderedPerson["box"], back: RenderedPerson["box"]): number {
  const w = Math.min(front[2], back[2]) - Math.max(front[0], back[0]);
  const h = Math.min(front[3], back[3]) - Math.max(front[1], back[1]);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / ((back[2] - back[0]) * (back[3] - back[1]));
}

/**
 * The detector of one camera. `oidPrefix` + a per-camera counter make detection ids unique for
 * the camera; `rng` is the camera's own stream, so each camera's output depends only on the seed
 * and on the people in its view.
 */
export class SimulatedDetector {
  readonly model: CameraModel;
  readonly sees: ReadonlySet<string>;
  private oidCounter = 0;

  constructor(
    readonly camera: MallCamera, readonly faults: CameraFaults, private readonly rng: Rng, private readonly oidPrefix: string,
    private readonly embeddings?: EmbeddingModel,
  ) {
    this.model = new CameraModel(camera.pose);
    this.sees = new Set(camera.sees);
  }

  /** Whether a person standing at (x, y) in `space` could be in this camera's view (cheap pre-check). */
  mayBeInView(space: string, x: number, y: number): boolean {
    return this.sees.has(space) && this.model.rangeOf([x, y]) <= this.camera.pose.maxRangeM;
  }

  /** Renders one frame from the people already known to be in a space the camera looks into. */
  detect(people: readonly PersonInView[]): DetectorOutput {
    const f = this.faults;
    const rng = this.rng;
    const rendered: Array<{ p: PersonInView; r: RenderedPerson }> = [];
    for (const p of people) {
      const r = this.model.renderPerson([p.x, p.y], p.heightM);
      if (r) rendered.push({ p, r });
    }
    rendered.sort((a, b) => a.r.depth - b.r.depth);
    const out: DetectorOutput = { detections: [], visible: [], occluded: [], truth: [], missed: 0, falsePositives: 0 };
    const found: Array<{ d: DetectionOut; person: string | null }> = [];
    for (let i = 0; i < rendered.length; i++) {
      const { p, r } = rendered[i]!;
      out.visible.push(p.id);
      let hidden = false;
      if (f.occlusionCover <= 1) {
        for (let j = 0; j < i && !hidden; j++) if (overlapShare(rendered[j]!.r.box, r.box) >= f.occlusionCover) hidden = true;
      }
      if (hidden) { out.occluded.push(p.id); continue; }
      if (chance(rng, f.missRate)) { out.missed++; continue; }
      const box = this.jitter(r.box);
      if (!box) { out.missed++; continue; }
      const score = chance(rng, f.lowScoreRate) ? uniform(rng, f.lowScore[0], f.lowScore[1]) : uniform(rng, f.highScore[0], f.highScore[1]);
      const d: DetectionOut = { oid: this.nextOid(), cls: "person", score: r3(score), box, attrs: { upper: this.colour(p.upper), lower: this.colour(p.lower) } };
      if (this.embeddings) d.embedding = this.embeddings.embed(p.id, p.upper, p.lower, this.camera.id, rng);
      found.push({ d, person: p.id });
    }
    if (chance(rng, f.falsePositiveRate)) {
      const d = this.falsePositive();
      if (d) { found.push({ d, person: null }); out.falsePositives++; }
    }
    shuffle(rng, found);
    for (const { d, person } of found) {
      out.detections.push(d);
      out.truth.push([d.oid, person]);
    }
    return out;
  }

  private nextOid(): string {
    return `${this.oidPrefix}-${(++this.oidCounter).toString(36)}`;
  }

  private colour(c: Colour): { value: Colour; conf: number } {
    const f = this.faults;
    if (chance(this.rng, f.attrConfusionRate)) return { value: confuseColour(this.rng, c), conf: r3(uniform(this.rng, f.confusedConf[0], f.confusedConf[1])) };
    return { value: c, conf: r3(uniform(this.rng, f.attrConf[0], f.attrConf[1])) };
  }

  /** Each edge moved by a normal deviate of jitter x the box size; clipped to the image; undefined if it collapses. */
  private jitter(b: RenderedPerson["box"]): [number, number, number, number] | undefined {
    const { width, height } = this.camera.pose;
    const j = this.faults.jitter;
    const w = b[2] - b[0], h = b[3] - b[1];
    const g = () => (j > 0 ? gaussian(this.rng) * j : 0);
    const x1 = Math.max(0, r1(b[0] + g() * w)), y1 = Math.max(0, r1(b[1] + g() * h));
    const x2 = Math.min(width, r1(b[2] + g() * w)), y2 = Math.min(height, r1(b[3] + g() * h));
    return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : undefined;
  }

  /** A person-sized box where nobody is: at a random pixel of the lower image that shows floor within range. */
  private falsePositive(): DetectionOut | undefined {
    const { width, height } = this.camera.pose;
    const f = this.faults;
    for (let i = 0; i < 10; i++) {
      const px: Point = [uniform(this.rng, 0, width), uniform(this.rng, height * 0.3, height)];
      const floor = this.model.imageToFloor(px);
      if (!floor) continue;
      const r = this.model.renderPerson(floor, uniform(this.rng, 1.2, 1.9));
      if (!r) continue;
      const box = this.jitter(r.box);
      if (!box) continue;
      const colour = () => ({ value: pickOne(this.rng, COLOURS), conf: r3(uniform(this.rng, 0.2, 0.5)) });
      const d: DetectionOut = { oid: this.nextOid(), cls: "person", score: r3(uniform(this.rng, f.falsePositiveScore[0], f.falsePositiveScore[1])), box, attrs: { upper: colour(), lower: colour() } };
      if (this.embeddings) d.embedding = this.embeddings.embed(`fp:${d.oid}`, pickOne(this.rng, COLOURS), pickOne(this.rng, COLOURS), this.camera.id, this.rng);
      return d;
    }
    return undefined;
  }
}
