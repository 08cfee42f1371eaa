import { describe, expect, it } from "vitest";
import { ByteTracker, type StepResult } from "../../../actors/camera/byte-tracker.ts";
import { boxOf, initiateBox, predictBox, updateBox } from "../../../actors/camera/kalman-box.ts";
import { iou } from "../../../actors/camera/iou.ts";
import { CameraParams } from "../../../actors/camera/params.ts";
import { paramsOf } from "../../../actors/runtime/params.ts";
import { packed, render, straight, type Walk } from "./scene.ts";

/** Runs the tracker over rendered frames; returns, per oid, the track number it was matched to. */
function track(frames: ReturnType<typeof render>["frames"], params: Partial<CameraParams> = {}) {
  const tr = new ByteTracker(paramsOf(CameraParams, params));
  const byOid = new Map<string, number>();
  const steps: StepResult[] = [];
  for (const f of frames) {
    const { boxes, scores, count } = packed(f.detections);
    const r = tr.step(f.frameTs, boxes, scores, count);
    for (const m of r.matches) if (m.track.state !== "tentative") byOid.set(f.detections[m.det]!.oid, m.track.n);
    steps.push(r);
  }
  return { tr, byOid, steps };
}

describe("box Kalman filter", () => {
  it("learns a constant velocity and predicts with the real time step", () => {
    const refFps = 30;
    const f = initiateBox(100, 100, 150, 250, refFps);
    // moving 200 px/s to the right at uneven frame intervals
    let t = 0;
    for (const dt of [0.1, 0.05, 0.2, 0.1, 0.15, 0.1, 0.1, 0.05, 0.1, 0.1, 0.2, 0.1]) {
      t += dt;
      predictBox(f, dt, refFps);
      updateBox(f, 100 + 200 * t, 100, 150 + 200 * t, 250);
    }
    expect(f[4]!).toBeGreaterThan(170);
    expect(f[4]!).toBeLessThan(230);
    predictBox(f, 0.5, refFps);
    const out = new Float64Array(4);
    boxOf(f, out, 0);
    expect(out[0]!).toBeCloseTo(100 + 200 * (t + 0.5), -1.5);
    expect(out[3]! - out[1]!).toBeCloseTo(150, 0);
  });

  it("computes IoU", () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
  });
});

describe("ByteTracker", () => {
  it("keeps the ids of two people whose paths cross, with jitter and 10% missed detections", () => {
    // one walks left to right near the camera, the other right to left further away: their boxes
    // cross in the image (partly covering each other) at 10 fps
    const walks: Walk[] = [straight([-3, 5], [3, 5.6], 1.3), straight([3, 8], [-3, 7.4], 1.3)];
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const scene = render(walks, { fps: 10, frames: 50, jitter: 0.02, miss: 0.1, seed });
      const { byOid } = track(scene.frames);
      const idsOf = (person: number) => new Set([...scene.truth.values()].filter((d) => d.person === person && byOid.has(d.oid)).map((d) => byOid.get(d.oid)));
      const a = idsOf(0), b = idsOf(1);
      expect(a.size, `seed ${seed} person 0 ids ${[...a]}`).toBe(1);
      expect(b.size, `seed ${seed} person 1 ids ${[...b]}`).toBe(1);
      expect([...a][0]).not.toBe([...b][0]);
      // nearly every detection after confirmation was tracked
      const tracked = [...scene.truth.values()].filter((d) => byOid.has(d.oid)).length;
      expect(tracked).toBeGreaterThan(scene.truth.size * 0.85);
    }
  });

  it("recovers the ids of two people of the same size passing through the same image spot", () => {
    // the same depth where they cross: the boxes cover each other fully for a frame or two, where
    // IoU cannot tell them apart; the velocities carry each track through, so a swap does not last
    const walks: Walk[] = [straight([-3, 5], [3, 7], 1.3), straight([3, 5.2], [-3, 6.8], 1.3)];
    for (const seed of [1, 2, 3, 4, 5]) {
      const scene = render(walks, { fps: 10, frames: 50, jitter: 0.02, miss: 0.1, seed });
      const { byOid } = track(scene.frames);
      for (const person of [0, 1]) {
        const dets = [...scene.truth.values()].filter((d) => d.person === person && byOid.has(d.oid)).sort((x, y) => x.frame - y.frame);
        const first = byOid.get(dets[0]!.oid), last = byOid.get(dets.at(-1)!.oid);
        expect(last, `seed ${seed} person ${person}`).toBe(first);
        const same = dets.filter((d) => byOid.get(d.oid) === first).length;
        expect(same / dets.length).toBeGreaterThan(0.95);
      }
    }
  });

  it("keeps a track through a gap shorter than lostMs and ends it after a longer one", () => {
    const walk = straight([-3, 6], [3, 6], 1, 0);
    const gap = (from: number, to: number): Walk => (t) => (t >= from && t < to ? undefined : walk(t));
    // 1.5 s gap: same track after it
    const short = render([gap(1500, 3000)], { fps: 10, frames: 50, jitter: 0.01, seed: 3 });
    const s = track(short.frames, { lostMs: 2000 });
    expect(new Set(s.byOid.values()).size).toBe(1);
    expect(s.steps.flatMap((r) => r.ended)).toHaveLength(0);
    // 2.5 s gap: the first track ends 2 s after its last sighting, a new one starts after the gap
    const long = render([gap(1500, 4000)], { fps: 10, frames: 60, jitter: 0.01, seed: 3 });
    const l = track(long.frames, { lostMs: 2000 });
    expect(new Set(l.byOid.values()).size).toBe(2);
    const endedAt = l.steps.findIndex((r) => r.ended.length > 0);
    expect(endedAt).toBeGreaterThan(0);
    const lastSeen = Math.max(...[...long.truth.values()].filter((d) => d.frame < 15).map((d) => d.frame));
    const endTs = long.frames[endedAt]!.frameTs, seenTs = long.frames[lastSeen]!.frameTs;
    expect(endTs - seenTs).toBeGreaterThan(2000);
    expect(endTs - seenTs).toBeLessThanOrEqual(2100);
  });

  it("extends tracks with low-score detections in the second association", () => {
    // scores drop to 0.3 for frames 10..24 (an occluded person)
    const walk = straight([-3, 6], [3, 6], 1.2);
    const score = (_p: number, k: number) => (k >= 10 && k < 25 ? 0.3 : 0.9);
    const scene = render([walk], { fps: 10, frames: 40, jitter: 0.01, seed: 9, score });
    const low = [...scene.truth.values()].filter((d) => d.frame >= 10 && d.frame < 25);
    const withSecondPass = track(scene.frames);
    expect(low.every((d) => withSecondPass.byOid.get(d.oid) === 1)).toBe(true);
    expect(new Set(withSecondPass.byOid.values())).toEqual(new Set([1]));
    // without it (low-score boxes ignored) the same frames are lost
    const without = track(scene.frames, { lowThresh: 0.4 });
    expect(low.some((d) => without.byOid.has(d.oid))).toBe(false);
  });

  it("never confirms false positives that appear once, and confirms a person after minHits frames", () => {
    const scene = render([straight([-2, 4], [2, 9], 1.2)], { fps: 10, frames: 40, jitter: 0.02, falsePositives: 1.5, seed: 11 });
    const { steps, byOid } = track(scene.frames);
    const fps = scene.frames.flatMap((f) => f.detections.filter((d) => d.oid.includes("fp")));
    expect(fps.length).toBeGreaterThan(20);
    expect(fps.some((d) => byOid.has(d.oid))).toBe(false);
    const confirmed = steps.flatMap((r) => r.confirmed);
    expect(confirmed).toHaveLength(1);
    expect(steps.findIndex((r) => r.confirmed.length > 0)).toBe(paramsOf(CameraParams).minHits - 1);
    // minHits 1: confirmed at birth (and false positives then become tracks too)
    const eager = track(scene.frames, { minHits: 1 });
    const personFirst = scene.frames[0]!.detections.findIndex((d) => !d.oid.includes("fp"));
    expect(eager.steps[0]!.confirmed.map((t) => t.n)).toContain(eager.steps[0]!.matches.find((m) => m.det === personFirst)!.track.n);
  });

  it("steps identically after encode -> JSON -> decode", () => {
    const walks = [straight([-3, 5], [3, 7], 1.3), straight([3, 5.2], [-3, 6.8], 1.3), straight([0, 3], [0, 10], 1, 500)];
    const scene = render(walks, { fps: 12, frames: 60, jitter: 0.03, miss: 0.1, falsePositives: 0.5, seed: 5, tsJitterMs: 20 });
    const p = paramsOf(CameraParams);
    const a = new ByteTracker(p);
    let b = new ByteTracker(p);
    scene.frames.forEach((f, k) => {
      if (k % 7 === 3) b = ByteTracker.decode(JSON.parse(JSON.stringify(b.encode())), p);
      const x = packed(f.detections);
      const ra = a.step(f.frameTs, x.boxes, x.scores, x.count);
      const rb = b.step(f.frameTs, x.boxes, x.scores, x.count);
      expect(rb.matches.map((m) => [m.track.n, m.det])).toEqual(ra.matches.map((m) => [m.track.n, m.det]));
      expect(b.encode()).toEqual(a.encode());
    });
    expect(a.next).toBeGreaterThan(3);
  });
});
