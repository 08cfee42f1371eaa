import type { Point } from "../../contracts/geometry.ts";

/** Even-odd rule; points exactly on an edge may fall either way. */
export function pointInPolygon(p: Point, poly: readonly Point[]): boolean {
  let inside = false;
  const [x, y] = p;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Signed area (positive when counter-clockwise). */
export function polygonArea(poly: readonly Point[]): number {
  let a = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) a += poly[j]![0] * poly[i]![1] - poly[i]![0] * poly[j]![1];
  return a / 2;
}

/** Whether two edges that do not share an endpoint cross (a self-intersecting outline). */
export function isSimplePolygon(poly: readonly Point[]): boolean {
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentCrossing(poly[i]!, poly[(i + 1) % n]!, poly[j]!, poly[(j + 1) % n]!) !== 0) return false;
    }
  }
  return true;
}

const side = (a: Point, b: Point, p: Point) => (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);

/**
 * Does the move p -> q cross the line a -> b? 0 if not; +1 if it crosses from the line's left
 * to its right (looking from a to b), -1 the other way. Touching an end point counts as crossing.
 */
export function segmentCrossing(p: Point, q: Point, a: Point, b: Point): 0 | 1 | -1 {
  const sp = side(a, b, p), sq = side(a, b, q);
  if ((sp > 0 && sq > 0) || (sp < 0 && sq < 0) || sp === sq) return 0;
  const sa = side(p, q, a), sb = side(p, q, b);
  if ((sa > 0 && sb > 0) || (sa < 0 && sb < 0)) return 0;
  return sp > 0 ? 1 : -1;
}
