/**
 * Non-maximum suppression, greedy and per class: candidates sorted by score, a box is dropped
 * when its IoU with a kept box of the same class exceeds the threshold; at most `maxDetections`
 * boxes are kept overall (highest scores first).
 */

export interface Detection {
  /** [x1, y1, x2, y2] in pixels */
  box: [number, number, number, number];
  score: number;
  /** class id (index into the model's class list) */
  cls: number;
}

export interface NmsOptions {
  iouThreshold: number;
  maxDetections: number;
}

export function iou(a: Detection["box"], b: Detection["box"]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const areaB = (b[2] - b[0]) * (b[3] - b[1]);
  return inter / (areaA + areaB - inter);
}

export function nms(candidates: readonly Detection[], opts: NmsOptions): Detection[] {
  const sorted = [...candidates].sort((p, q) => q.score - p.score);
  const keptByClass = new Map<number, Detection[]>();
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= opts.maxDetections) break;
    let same = keptByClass.get(d.cls);
    if (!same) keptByClass.set(d.cls, (same = []));
    if (same.some((k) => iou(k.box, d.box) > opts.iouThreshold)) continue;
    same.push(d);
    kept.push(d);
  }
  return kept;
}
