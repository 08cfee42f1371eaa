/**
 * Letterbox unit tests: scale and padding for wide, tall and square frames, padding values,
 * normalisation and channel order, NCHW vs NHWC, and mapping a drawn rectangle back to source pixels.
 */
import { describe, expect, it } from "vitest";
import { letterbox, letterboxTransform, toSource, type LetterboxSpec } from "../../models/letterbox.ts";

const SPEC: LetterboxSpec = {
  width: 416,
  height: 416,
  layout: "nchw",
  channelOrder: "rgb",
  mean: [0, 0, 0],
  std: [1, 1, 1],
  padValue: 7,
};

function solid(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const f = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) f.set(rgb, i * 3);
  return f;
}

const at = (out: Float32Array, c: number, x: number, y: number, W = 416, H = 416) => out[c * W * H + y * W + x]!;

describe("letterbox", () => {
  it("wide frame: scaled to full width, padded top and bottom", () => {
    const t = letterboxTransform(832, 416, 416, 416);
    expect(t.scale).toBe(0.5);
    expect([t.innerWidth, t.innerHeight, t.padX, t.padY]).toEqual([416, 208, 0, 104]);
    const out = new Float32Array(3 * 416 * 416);
    letterbox(solid(832, 416, [10, 20, 30]), 832, 416, SPEC, out);
    expect(at(out, 0, 200, 50)).toBe(7); // padding above
    expect(at(out, 0, 200, 103)).toBe(7);
    expect(at(out, 0, 200, 104)).toBeCloseTo(10, 4);
    expect(at(out, 2, 200, 311)).toBeCloseTo(30, 4);
    expect(at(out, 1, 200, 312)).toBe(7); // padding below
  });

  it("tall frame: scaled to full height, padded left and right", () => {
    const t = letterboxTransform(200, 400, 416, 416);
    expect(t.scale).toBeCloseTo(1.04, 10);
    expect([t.innerWidth, t.innerHeight, t.padX, t.padY]).toEqual([208, 416, 104, 0]);
    const out = new Float32Array(3 * 416 * 416);
    letterbox(solid(200, 400, [50, 60, 70]), 200, 400, SPEC, out);
    expect(at(out, 0, 103, 10)).toBe(7);
    expect(at(out, 0, 104, 10)).toBeCloseTo(50, 4);
    expect(at(out, 1, 311, 400)).toBeCloseTo(60, 4);
    expect(at(out, 2, 312, 10)).toBe(7);
  });

  it("same-size frame is copied exactly, normalised, in BGR when asked", () => {
    const w = 416;
    const frame = new Uint8Array(w * w * 3);
    for (let i = 0; i < frame.length; i++) frame[i] = (i * 31) % 256;
    const spec: LetterboxSpec = { ...SPEC, channelOrder: "bgr", mean: [1, 2, 3], std: [2, 4, 8] };
    const out = new Float32Array(3 * w * w);
    const t = letterbox(frame, w, w, spec, out);
    expect([t.scale, t.padX, t.padY]).toEqual([1, 0, 0]);
    for (const [x, y] of [[0, 0], [415, 415], [123, 321]] as const) {
      const p = (y * w + x) * 3;
      expect(at(out, 0, x, y)).toBeCloseTo((frame[p + 2]! - 1) / 2, 5); // B
      expect(at(out, 1, x, y)).toBeCloseTo((frame[p + 1]! - 2) / 4, 5); // G
      expect(at(out, 2, x, y)).toBeCloseTo((frame[p]! - 3) / 8, 5); // R
    }
  });

  it("NHWC layout holds the same values as NCHW", () => {
    const frame = new Uint8Array(300 * 200 * 3);
    for (let i = 0; i < frame.length; i++) frame[i] = (i * 7 + 3) % 256;
    const a = new Float32Array(3 * 416 * 416);
    const b = new Float32Array(3 * 416 * 416);
    letterbox(frame, 300, 200, SPEC, a);
    letterbox(frame, 300, 200, { ...SPEC, layout: "nhwc" }, b);
    for (const [x, y] of [[0, 0], [100, 200], [415, 415], [208, 140]] as const)
      for (let c = 0; c < 3; c++) expect(b[(y * 416 + x) * 3 + c]).toBe(at(a, c, x, y));
  });

  it("a rectangle maps back to its source pixels", () => {
    const w = 768;
    const h = 576;
    const frame = new Uint8Array(w * h * 3); // black
    const rect = { x1: 300, y1: 100, x2: 420, y2: 380 }; // white, [x1,x2) x [y1,y2)
    for (let y = rect.y1; y < rect.y2; y++) for (let x = rect.x1; x < rect.x2; x++) frame.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const out = new Float32Array(3 * 416 * 416);
    const cache = {};
    for (let k = 0; k < 2; k++) {
      // twice: the second time with the cached tap tables
      const t = letterbox(frame, w, h, { ...SPEC, padValue: 0 }, out, cache);
      let minX = 416, minY = 416, maxX = -1, maxY = -1;
      for (let y = 0; y < 416; y++)
        for (let x = 0; x < 416; x++)
          if (at(out, 0, x, y) > 127) {
            minX = Math.min(minX, x);
            maxX = Math.max(maxX, x);
            minY = Math.min(minY, y);
            maxY = Math.max(maxY, y);
          }
      const [sx1, sy1] = toSource(t, minX, minY);
      const [sx2, sy2] = toSource(t, maxX + 1, maxY + 1);
      const tol = 1 / t.scale + 0.5; // one model pixel
      expect(Math.abs(sx1 - rect.x1)).toBeLessThan(tol);
      expect(Math.abs(sy1 - rect.y1)).toBeLessThan(tol);
      expect(Math.abs(sx2 - rect.x2)).toBeLessThan(tol);
      expect(Math.abs(sy2 - rect.y2)).toBeLessThan(tol);
    }
  });

  it("rejects buffers of the wrong size", () => {
    expect(() => letterbox(new Uint8Array(10), 10, 10, SPEC, new Float32Array(3 * 416 * 416))).toThrow();
    expect(() => letterbox(new Uint8Array(300), 10, 10, SPEC, new Float32Array(5))).toThrow();
  });
});
