/**
 * One processed frame's detector output turned into the camera event contract's detections
 * (contracts/detection.ts): cls "person", score, box in source pixels, upper/lower garment colours
 * (models/garment-colour.ts) as attrs, and an oid unique per camera.
 *
 * Rounding (keeps messages small and the output stable): box to 0.1 px, score to 0.001, colour
 * confidence to 0.01. A box that is less than 1 px wide or high after clamping and rounding (a
 * detection in the letterbox padding) is dropped: the contract requires x1 < x2 and y1 < y2, and
 * one bad box would get the whole frame refused by the broker.
 *
 * oid = `${camera}:f${seq}@${frameTs}:${i}`: seq and frame time together identify the frame (the
 * camera actor's frame key), i counts the frame's kept detections. Unique per camera whether seq
 * continues across restarts or restarts at 0 with newer frame times.
 */
import type { Detection } from "../../contracts/detection.ts";
import { garmentColours } from "../../models/garment-colour.ts";
import type { Detection as RawDetection } from "../../models/nms.ts";

export const r1 = (v: number): number => Math.round(v * 10) / 10;
export const r2 = (v: number): number => Math.round(v * 100) / 100;
export const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/** the detection id of the i-th kept detection of a frame */
export const detectionOid = (camera: string, seq: number, frameTs: number, i: number): string => `${camera}:f${seq}@${frameTs}:${i}`;

export interface FrameImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * Contract detections of one frame (colours measured on `image`, the frame the boxes came from).
 * `className` names a detector class id (the detector keeps only "person" unless told otherwise).
 */
export function contractDetections(
  camera: string, seq: number, frameTs: number,
  raw: readonly RawDetection[], image: FrameImage,
  className: (cls: number) => string = () => "person",
): Detection[] {
  const out: Detection[] = [];
  for (const d of raw) {
    const box = d.box.map(r1) as [number, number, number, number];
    if (!(box[2] - box[0] >= 1 && box[3] - box[1] >= 1)) continue;
    const c = garmentColours(image.rgb, image.width, image.height, d.box);
    out.push({
      oid: detectionOid(camera, seq, frameTs, out.length),
      cls: className(d.cls),
      score: r3(d.score),
      box,
      attrs: {
        upper: { value: c.upper.value, conf: r2(c.upper.conf) },
        lower: { value: c.lower.value, conf: r2(c.lower.conf) },
      },
    });
  }
  return out;
}
