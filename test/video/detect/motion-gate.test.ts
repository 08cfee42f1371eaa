/**
 * The motion gate on synthetic frames: the first frame passes, a still scene is held back, a
 * moving object passes, sensor noise below the cell threshold does not, `maxSkip` forces a pass,
 * slow drift is caught because frames are compared with the last PASSED frame, and a size change
 * passes. Also the grey grid's box averages.
 */
import { describe, expect, it } from "vitest";
import { greyGrid, MotionGate } from "../../../video/detect/motion-gate.ts";

const W = 320;
const H = 240;

function frame(bg = 100, square?: { x: number; y: number; size: number; value: number }): Uint8Array {
  const rgb = new Uint8Array(W * H * 3).fill(bg);
  if (square) {
    for (let y = square.y; y < square.y + square.size; y++) {
      for (let x = square.x; x < square.x + square.size; x++) rgb.fill(square.value, (y * W + x) * 3, (y * W + x) * 3 + 3);
    }
  }
  return rgb;
}

/** deterministic ±amp noise on every byte */
function noisy(base: Uint8Array, amp: number, seed: number): Uint8Array {
  let s = seed >>> 0 || 1;
  return base.map((v) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return Math.max(0, Math.min(255, v + ((s % (2 * amp + 1)) - amp)));
  });
}

describe("motion gate", () => {
  it("box-averages a grey grid", () => {
    const rgb = new Uint8Array(4 * 2 * 3);
    // left 2x2 block: pixels grey 0 and 200 alternating -> mean 100; right block: (R,G,B) = (40, 80, 120) -> (40+160+120)/4 = 80
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) {
      const p = (y * 4 + x) * 3;
      if (x < 2) rgb.fill((x + y) % 2 === 0 ? 0 : 200, p, p + 3);
      else rgb.set([40, 80, 120], p);
    }
    expect(Array.from(greyGrid(rgb, 4, 2, 2))).toEqual([100, 80]);
  });

  it("passes the first frame, holds a still scene, passes motion", () => {
    const gate = new MotionGate({ threshold: 0.005, maxSkip: 100 });
    const still = frame();
    expect(gate.check(still, W, H)).toMatchObject({ pass: true, reason: "first" });
    for (let i = 0; i < 5; i++) expect(gate.check(frame(), W, H)).toMatchObject({ pass: false, reason: "still", changed: 0 });
    // a 30x30 person-sized square appears: ~1.2 % of the frame
    const d = gate.check(frame(100, { x: 50, y: 60, size: 30, value: 200 }), W, H);
    expect(d.pass).toBe(true);
    expect(d.reason).toBe("motion");
    expect(d.changed).toBeGreaterThan(0.005);
    expect(d.changed).toBeLessThan(0.05);
    // it moves on
    expect(gate.check(frame(100, { x: 90, y: 60, size: 30, value: 200 }), W, H).pass).toBe(true);
    expect(gate.stats).toEqual({ seen: 8, passed: 3 });
  });

  it("ignores noise below the cell threshold", () => {
    const gate = new MotionGate({ maxSkip: 100 });
    gate.check(frame(), W, H);
    for (let i = 0; i < 5; i++) {
      const d = gate.check(noisy(frame(), 20, i + 1), W, H);
      expect(d.pass).toBe(false);
      expect(d.changed).toBe(0);
    }
  });

  it("passes every maxSkip+1-th frame of a still scene anyway", () => {
    const gate = new MotionGate({ maxSkip: 3 });
    const passes = Array.from({ length: 13 }, () => gate.check(frame(), W, H));
    expect(passes.map((d) => (d.pass ? 1 : 0))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(passes[4]!.reason).toBe("max-skip");
  });

  it("sees slow drift: compares with the last passed frame, not the previous one", () => {
    const gate = new MotionGate({ maxSkip: 1000, cellDelta: 16, threshold: 0.5 });
    gate.check(frame(100), W, H);
    // brightness creeps up 4 levels per frame: never 16 against the previous frame
    const decisions = [];
    for (let i = 1; i <= 6; i++) decisions.push(gate.check(frame(100 + 4 * i), W, H));
    expect(decisions.map((d) => d.pass)).toEqual([false, false, false, false, true, false]);
    expect(decisions[4]!.reason).toBe("motion");
  });

  it("passes a frame of a new size and validates options", () => {
    const gate = new MotionGate();
    gate.check(frame(), W, H);
    expect(gate.check(new Uint8Array(160 * 120 * 3).fill(100), 160, 120)).toMatchObject({ pass: true, reason: "size-change" });
    expect(() => new MotionGate({ threshold: 2 })).toThrow(/threshold/);
    expect(() => new MotionGate({ maxSkip: -1 })).toThrow(/maxSkip/);
    expect(() => gate.check(new Uint8Array(10), W, H)).toThrow(/bytes/);
  });
});
