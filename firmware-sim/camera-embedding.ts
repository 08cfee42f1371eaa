import type { Colour } from "../contracts/detection.ts";
import { deriveSeed, mulberry32, type Rng } from "./random.ts";
import { gaussian } from "./camera-mall.ts";

/**
 * Simulated re-identification embeddings, for smart cameras that send one per detection (many
 * ship a person re-ID network; the event contract carries it as `embedding`). What a real one
 * gives is imitated with four parts, each a random unit vector, summed with weights and normalised:
 *
 *   clothes   one vector per upper colour and per lower colour (weights 0.6, 0.4): people dressed
 *             alike look somewhat alike
 *   identity  one per person (1.0): what tells two people in the same clothes apart
 *   view      one per (person, camera) (0.5): a camera's viewpoint and light change the look
 *   noise     fresh per detection (sigma 0.5 per vector): pose, blur, partial views
 *
 * Mean cosine similarity with 16 dimensions (test/firmware-sim/camera-embedding.test.ts): the same
 * person in one camera about 0.85, in two cameras about 0.7, strangers in the same clothes 0.1-0.3
 * (depends on the colours), otherwise about 0. Real re-ID models separate people less cleanly in
 * crowds; these figures are a model of one, not a measurement.
 */
export const EMBEDDING_WEIGHTS = { upper: 0.6, lower: 0.4, identity: 1.0, view: 0.5, noise: 0.5 } as const;

function unitVector(rng: Rng, dims: number): number[] {
  const v = Array.from({ length: dims }, () => gaussian(rng));
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}

export class EmbeddingModel {
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly seed: number, readonly dims: number) {}

  private vector(key: string): number[] {
    let v = this.cache.get(key);
    if (!v) {
      v = unitVector(mulberry32(deriveSeed(this.seed, `embedding:${key}`)), this.dims);
      this.cache.set(key, v);
    }
    return v;
  }

  /** One detection's embedding (rounded to 1e-3), noise from the camera's own random stream. */
  embed(person: string, upper: Colour, lower: Colour, camera: string, rng: Rng): number[] {
    const w = EMBEDDING_WEIGHTS;
    const parts: Array<[number[], number]> = [
      [this.vector(`upper:${upper}`), w.upper],
      [this.vector(`lower:${lower}`), w.lower],
      [this.vector(`person:${person}`), w.identity],
      [this.vector(`view:${person}:${camera}`), w.view],
    ];
    const out = new Array<number>(this.dims).fill(0);
    for (const [v, k] of parts) for (let i = 0; i < this.dims; i++) out[i]! += k * v[i]!;
    const sigma = w.noise / Math.sqrt(this.dims);
    for (let i = 0; i < this.dims; i++) out[i]! += sigma * gaussian(rng);
    const n = Math.hypot(...out) || 1;
    return out.map((x) => Math.round((x / n) * 1000) / 1000);
  }
}
