/**
 * Intersection over union of image boxes [x1, y1, x2, y2], and the 1 - IoU cost matrix the
 * tracker's associations minimise. Boxes are packed 4 numbers each in flat arrays so a frame's
 * matrix is built without allocating per box.
 */

/** IoU of boxes a and b, each given as 4 numbers at the offsets ai / bi. */
export function iouAt(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number {
  const ax1 = a[ai]!, ay1 = a[ai + 1]!, ax2 = a[ai + 2]!, ay2 = a[ai + 3]!;
  const bx1 = b[bi]!, by1 = b[bi + 1]!, bx2 = b[bi + 2]!, by2 = b[bi + 3]!;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  if (iw <= 0) return 0;
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (ih <= 0) return 0;
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

export function iou(a: readonly number[], b: readonly number[]): number {
  return iouAt(a, 0, b, 0);
}

/**
 * Cost matrix (rows = the listed tracks, cols = the listed detections) of 1 - IoU, row-major.
 * trackBoxes / detBoxes hold 4 numbers per track / detection; rows / cols index into them.
 */
export function iouCost(
  trackBoxes: Float64Array, rows: readonly number[],
  detBoxes: Float64Array, cols: readonly number[],
): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  for (let r = 0; r < rows.length; r++) {
    const ti = rows[r]! * 4;
    const base = r * cols.length;
    for (let c = 0; c < cols.length; c++) out[base + c] = 1 - iouAt(trackBoxes, ti, detBoxes, cols[c]! * 4);
  }
  return out;
}
