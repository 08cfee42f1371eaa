import { describe, expect, it } from "vitest";
import { EmbeddingModel } from "../../firmware-sim/camera-embedding.ts";
import { mulberry32 } from "../../firmware-sim/random.ts";

const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0) / (Math.hypot(...a) * Math.hypot(...b));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("simulated re-ID embeddings", () => {
  const m = new EmbeddingModel(42, 16);
  const rng = mulberry32(7);
  const pairs = (f: (k: number) => [number[], number[]]) => mean(Array.from({ length: 200 }, (_, k) => cos(...f(k))));

  it("are deterministic for a seed and unit length", () => {
    const again = new EmbeddingModel(42, 16);
    const a = m.embed("w1", "blue", "black", "cam-1", mulberry32(1));
    expect(again.embed("w1", "blue", "black", "cam-1", mulberry32(1))).toEqual(a);
    expect(Math.hypot(...a)).toBeCloseTo(1, 2);
  });

  it("order similarities as documented: same person and camera > same person in two cameras > same clothes > strangers", () => {
    const sameCam = pairs((k) => [m.embed(`p${k}`, "blue", "black", "c1", rng), m.embed(`p${k}`, "blue", "black", "c1", rng)]);
    const twoCams = pairs((k) => [m.embed(`p${k}`, "blue", "black", "c1", rng), m.embed(`p${k}`, "blue", "black", "c2", rng)]);
    const sameClothes = pairs((k) => [m.embed(`p${k}`, "blue", "black", "c1", rng), m.embed(`q${k}`, "blue", "black", "c2", rng)]);
    const strangers = pairs((k) => [m.embed(`p${k}`, "blue", "black", "c1", rng), m.embed(`q${k}`, "red", "grey", "c2", rng)]);
    expect(sameCam).toBeGreaterThan(0.75);
    expect(twoCams).toBeGreaterThan(0.55);
    expect(twoCams).toBeLessThan(sameCam);
    expect(sameClothes).toBeGreaterThan(strangers + 0.05);
    expect(sameClothes).toBeLessThan(0.45);
    expect(Math.abs(strangers)).toBeLessThan(0.15);
  });
});
