import { describe, expect, it } from "vitest";
import { footPoint } from "../../../actors/camera/floor-track.ts";
import type { TrackUpdate } from "../../../contracts/events.ts";
import type { Point } from "../../../contracts/geometry.ts";
import { CameraHarness } from "./harness.ts";
import { pinhole, render, sites, straight, type Walk } from "./scene.ts";

const toFloor = sites().camera("mall", "cam-1")!.toFloor;
const noise = { boxJitter: 0.04, floorMinStd: 0.05 };

const pathLength = (pts: ReadonlyArray<readonly [number, number, number]>) =>
  pts.slice(1).reduce((s, p, i) => s + Math.hypot(p[1] - pts[i]![1], p[2] - pts[i]![2]), 0);

describe("floor positions", () => {
  it("maps the bottom centre of a box to the floor through the calibration", () => {
    for (const p of [[0, 4], [2, 6], [-2.5, 9]] as Point[]) {
      const z = footPoint(toFloor, ...pinhole.box(p), noise)!;
      expect(Math.hypot(z.x - p[0], z.y - p[1])).toBeLessThan(1e-6);
      // depth is less certain than the lateral position, and far points less than near ones
      expect(z.ryy).toBeGreaterThan(z.rxx);
    }
    const near = footPoint(toFloor, ...pinhole.box([0, 4]), noise)!, far = footPoint(toFloor, ...pinhole.box([0, 9]), noise)!;
    expect(far.ryy).toBeGreaterThan(near.ryy);
    // above the horizon: no floor point
    expect(footPoint(toFloor, 600, -400, 650, -300, noise)).toBeUndefined();
  });

  it("keeps a person standing still within 0.3 m of the truth despite box jitter, and still", () => {
    for (const [x, y] of [[1, 6], [-2, 9], [0.5, 3.5]] as Point[]) {
      const still: Walk = () => [x, y];
      const scene = render([still], { fps: 10, frames: 150, jitter: 0.03, seed: 21 });
      const h = new CameraHarness({ minHits: 3 });
      for (const f of scene.frames) h.handle(f);
      // every frame's smoothed position (track.update events) from confirmation on (3 frames)
      const live = h.ctx.emits.map((e) => e.body as TrackUpdate).map((u) => u.tracks[0]!);
      expect(live.length).toBe(148);
      const errors = live.slice(5).map(([, , px, py]) => Math.hypot(px - x, py - y));
      expect(Math.max(...errors), `at ${x},${y}`).toBeLessThan(0.3);
      // the raw foot points of the same boxes scatter much more
      const raw = scene.frames.map((f) => { const z = footPoint(toFloor, ...(f.detections[0]!.box), noise)!; return [f.frameTs, z.x, z.y] as [number, number, number]; });
      const rawErrors = raw.map(([, rx, ry]) => Math.hypot(rx - x, ry - y));
      expect(Math.max(...rawErrors)).toBeGreaterThan(Math.max(...errors));
      // what goes to the linker: within 0.3 m, about one observation a second, and no apparent walk
      const [path] = [...h.paths().values()];
      expect(Math.max(...path!.map(([, px, py]) => Math.hypot(px - x, py - y)))).toBeLessThan(0.3);
      expect(path!.length).toBeGreaterThanOrEqual(14);
      expect(path!.length).toBeLessThanOrEqual(20);
      expect(pathLength(path!), `at ${x},${y}`).toBeLessThan(0.5);
      expect(pathLength(raw)).toBeGreaterThan(10);
    }
  });

  it("measures a straight walk's length within 3%", () => {
    const cases: Array<[Point, Point, number, number]> = [
      [[-3, 3], [3, 10], 1.3, 10], [[2.5, 3], [-2.5, 10], 1.0, 8], [[-3, 6], [3, 6], 1.5, 15], [[0.5, 3], [-0.5, 11], 1.2, 25], [[-2, 10], [2, 3], 1.4, 5],
    ];
    for (const [a, b, speed, fps] of cases) {
      for (const seed of [5, 6, 7]) {
        const walk = straight(a, b, speed);
        const seconds = Math.hypot(b[0] - a[0], b[1] - a[1]) / speed;
        const scene = render([walk], { fps, frames: Math.floor(seconds * fps) + 1, jitter: 0.03, miss: 0.1, seed, tsJitterMs: 10 });
        const h = new CameraHarness();
        for (const f of scene.frames) h.handle(f);
        const paths = [...h.paths().values()];
        expect(paths).toHaveLength(1);
        const path = paths[0]!;
        const truth = speed * (path.at(-1)![0] - path[0]![0]) / 1000;
        const measured = pathLength(path);
        expect(Math.abs(measured - truth) / truth, `${a} -> ${b} seed ${seed}: ${measured.toFixed(2)} vs ${truth.toFixed(2)}`).toBeLessThan(0.03);
        // the path starts at the first sighting (tentative observations were sent at confirmation)
        expect(path[0]![0]).toBe(scene.frames.find((f) => f.detections.length > 0)!.frameTs);
        // the raw foot points of the same boxes would measure the walk much longer
        const raw = scene.frames.flatMap((f) => f.detections.map((d) => { const z = footPoint(toFloor, ...d.box, noise)!; return [f.frameTs, z.x, z.y] as [number, number, number]; }));
        expect(pathLength(raw)).toBeGreaterThan(measured);
      }
    }
  });

  it("ends a path where the person was last seen", () => {
    const walk = straight([-3, 5], [3, 8], 1.3);
    const scene = render([walk], { fps: 10, frames: 80, jitter: 0.03, seed: 2 });
    const h = new CameraHarness();
    for (const f of scene.frames) h.handle(f);
    const [path] = [...h.paths().values()];
    const lastSeen = Math.max(...scene.frames.filter((f) => f.detections.length > 0).map((f) => f.frameTs));
    expect(path!.at(-1)![0]).toBe(lastSeen);
    const truth = walk(lastSeen - scene.frames[0]!.frameTs)!;
    expect(Math.hypot(path!.at(-1)![1] - truth[0], path!.at(-1)![2] - truth[1])).toBeLessThan(0.3);
  });
});
