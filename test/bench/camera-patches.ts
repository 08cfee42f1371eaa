/**
 * Simulated smart cameras for the load benches (test/bench/detections.ts, test/bench/soak.ts):
 * each camera looks at its own 20 m x 12 m patch of floor (calibrated with a known homography;
 * patch i spans x in [25 i, 25 i + 20]) where `people` people walk back and forth along their own
 * lanes at 1.2 m/s. Each frame carries one detection per person (a smart camera batches per frame).
 */
import type { DetectionFrameIn } from "../../contracts/detection.ts";
import type { Point } from "../../contracts/geometry.ts";
import { applyHomography, invertHomography } from "../../topology/geometry/homography.ts";

// image 1280x720 looking at floor x 0..20, y 0..12 (a mild perspective)
const IMAGE: Point[] = [[0, 720], [1280, 720], [1080, 80], [200, 80], [640, 400], [320, 600]];
const FLOOR_OF = { h: [0.0173, 0.0041, -2.1, 0.0002, -0.0206, 15.2, 0.00001, 0.00032, 1] };
const floorPoints = IMAGE.map((p) => applyHomography(FLOOR_OF, p)!);
const toImage = invertHomography(FLOOR_OF);

export interface PatchCamera { id: string; secret: string; space: string }

/** `n` cameras named `{prefix}-cam-{i}`, each seeing its own space `{prefix}-patch-{i}` */
export function patchCameras(n: number, prefix = "bench"): PatchCamera[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-cam-${i}`, secret: `${prefix}-cam-secret-${i}`, space: `${prefix}-patch-${i}` }));
}

/** the spaces and camera devices of a topology document for `cams` */
export function patchTopology(cams: PatchCamera[]) {
  return {
    spaces: cams.map((c, i) => ({ id: c.space, name: c.space, polygon: [[25 * i - 1, -1], [25 * i + 21, -1], [25 * i + 21, 13], [25 * i - 1, 13]] as Point[] })),
    devices: cams.map((c, i) => ({
      id: c.id, kind: "camera" as const, secret: c.secret, sees: [c.space],
      calibration: { image_points: IMAGE, floor_points: floorPoints.map(([x, y]) => [x + 25 * i, y] as Point) },
    })),
  };
}

/** The box of person k (of `people`) at `t` ms after the start: back and forth along its own lane. */
function boxOf(k: number, people: number, t: number): [number, number, number, number] {
  const lane = 1 + (10 * (k + 0.5)) / people;
  const phase = ((t / 1000) * 1.2 + k * 3.1) % 30;
  const x = 2 + (phase < 15 ? phase : 30 - phase);
  const feet = applyHomography(toImage, [x, lane])!;
  const h = 180 * (0.4 + feet[1] / 720);
  const w = h * 0.4;
  return [feet[0] - w / 2, feet[1] - h, feet[0] + w / 2, feet[1]];
}

/** Frame `seq` of `cam` captured at `ts` (`start`: the first frame's time), `people` detections. */
export function patchFrame(cam: PatchCamera, seq: number, ts: number, start: number, people: number): DetectionFrameIn {
  return {
    frame_ts: ts, seq,
    detections: Array.from({ length: people }, (_, p) => ({
      oid: `${cam.id}-${seq}-${p}`, cls: "person", score: 0.6 + ((p * 7 + seq) % 30) / 100, box: boxOf(p, people, ts - start),
      attrs: { upper: { value: p % 5 === 0 ? "blue" : "red", conf: 0.8 }, lower: { value: "black", conf: 0.7 } },
    })),
  };
}
