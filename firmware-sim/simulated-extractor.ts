import { COLOURS, type Colour } from "../contracts/detection.ts";
import type { AttributeEvidence, AttributeExtractor, ExtractionRequest } from "../models/extractor.ts";
import { CameraModel } from "./camera-model.ts";
import { confuseColour } from "./camera-detector.ts";
import type { CameraTruth } from "./camera-truth.ts";
import { walkerPosition, type Clothes } from "./camera-walkers.ts";
import { chance, deriveSeed, mulberry32, uniform } from "./random.ts";

/**
 * An attribute extractor that "looks at the simulated world" instead of stored video: for a
 * tracklet (camera, span, floor path) it finds the true person standing nearest to the path
 * during the span among those the camera could see, and reports that person's clothes colour as
 * evidence, with the mistakes of a real model: a similar colour now and then, confidences
 * 0.6-0.95. Answers are deterministic per (seed, tracklet, attribute), so a re-run job gives the
 * same evidence.
 */
export interface SimulatedExtractorOptions {
  /** share of answers that name a similar colour instead (default 0.10) */
  confusionRate?: number;
  /** confidence of an answer, uniform (default [0.6, 0.95]) */
  conf?: [number, number];
  /** a person farther than this from the path (m, on average over the samples) is not the tracked one (default 1.5) */
  maxDistanceM?: number;
  /** path samples looked at, spread over the path (default 12) */
  samples?: number;
  seed?: number;
}

const ATTRIBUTES = ["shoes", "upper", "lower"] as const satisfies ReadonlyArray<keyof Clothes>;

export class SimulatedExtractor implements AttributeExtractor {
  readonly name = "simulated";
  readonly attributes: readonly string[] = ATTRIBUTES;
  private readonly models = new Map<string, { model: CameraModel; sees: Set<string> }>();
  private readonly confusionRate: number;
  private readonly conf: [number, number];
  private readonly maxDistanceM: number;
  private readonly samples: number;
  private readonly seed: number;

  constructor(private readonly truth: CameraTruth, opts: SimulatedExtractorOptions = {}) {
    for (const c of truth.plan.cameras) this.models.set(c.id, { model: new CameraModel(c.pose), sees: new Set(c.sees) });
    this.confusionRate = opts.confusionRate ?? 0.1;
    this.conf = opts.conf ?? [0.6, 0.95];
    this.maxDistanceM = opts.maxDistanceM ?? 1.5;
    this.samples = Math.max(1, opts.samples ?? 12);
    this.seed = opts.seed ?? 0;
  }

  /** The true person the tracklet followed (nearest visible person on average over path samples), if any. */
  identify(req: Pick<ExtractionRequest, "site" | "camera" | "path">): string | undefined {
    if (req.site !== this.truth.site) return undefined;
    const cam = this.models.get(req.camera);
    if (!cam || req.path.length === 0) return undefined;
    const n = Math.min(this.samples, req.path.length);
    const picks = Array.from({ length: n }, (_, i) => req.path[Math.round((i * (req.path.length - 1)) / Math.max(1, n - 1))]!);
    const from = picks[0]![0], to = picks[picks.length - 1]![0];
    const sums = new Map<string, { d: number; k: number }>();
    for (const w of this.truth.walkers) {
      if (w.leaveTs < from || w.enterTs > to) continue;
      for (const [ts, x, y] of picks) {
        const p = walkerPosition(w, ts);
        if (!p || !cam.sees.has(p.space) || !cam.model.seesFloorPoint([p.x, p.y])) continue;
        const s = sums.get(w.id) ?? { d: 0, k: 0 };
        s.d += Math.hypot(p.x - x, p.y - y);
        s.k++;
        sums.set(w.id, s);
      }
    }
    let best: string | undefined, bestScore = Infinity;
    for (const [id, s] of sums) {
      // a person seen in fewer samples counts as far away in the others
      const mean = (s.d + (picks.length - s.k) * this.maxDistanceM * 2) / picks.length;
      if (mean < bestScore || (mean === bestScore && best !== undefined && id < best)) { best = id; bestScore = mean; }
    }
    return best !== undefined && bestScore <= this.maxDistanceM ? best : undefined;
  }

  async extract(req: ExtractionRequest): Promise<AttributeEvidence> {
    if (!(ATTRIBUTES as readonly string[]).includes(req.attribute)) return {};
    const person = this.identify(req);
    if (person === undefined) return {};
    const w = this.truth.walker(person)!;
    const rng = mulberry32(deriveSeed(this.seed, `extract:${req.site}:${req.tid}:${req.attribute}:${req.from}:${req.to}`));
    const real = w.clothes[req.attribute as keyof Clothes];
    const value: Colour = chance(rng, this.confusionRate) ? confuseColour(rng, real) : real;
    if (!(COLOURS as readonly string[]).includes(value)) return {};
    return { [value]: Math.round(uniform(rng, this.conf[0], this.conf[1]) * 1000) / 1000 };
  }
}
