import type { Point } from "../../contracts/geometry.ts";
import { segmentCrossing } from "../../topology/geometry/polygon.ts";
import type { LineOnFloor } from "../../topology/site-geometry.ts";
import type { SecondBins } from "./bins.ts";

/**
 * A person's path from its per-second bins: anchors with hysteresis, distance walked, crossings
 * of counting lines.
 *
 * Path points are bins: their mean position and mean time. Anchors: the first bin, then every
 * bin at least anchorM from the previous anchor whose next bin is too (one noisy bin does not
 * open an anchor), plus the last bin (the "tail"). Distance walked = the sum of the
 * anchor-to-anchor segments: a standing person's jitter (well below anchorM after the
 * per-second mean) never opens an anchor, so it adds nothing but the final short segment, while
 * a walk keeps nearly every bin and so its true length. A bin's mean lies half its observations'
 * span inside the track's ends, so each end adds its speed (over its first / last 2 s of bins)
 * times the time between the end observation and the end bin's mean time.
 */

/** [ts (ms), x, y (m)] */
export type PathPoint = [number, number, number];

export interface Anchors {
  points: PathPoint[];
  /** the last point is the last bin, not (yet) an anchor */
  tail: boolean;
  distance: number;
}

/** Seconds of bins over which an end's speed is measured. */
const END_SPEED_MS = 2000;

export function anchors(bins: SecondBins, anchorM: number, span?: { first: number; last: number }): Anchors {
  const points: PathPoint[] = [];
  const n = bins.length;
  if (n === 0) return { points, tail: false, distance: 0 };
  const far = (i: number, a: number) => Math.hypot(bins.x(i) - bins.x(a), bins.y(i) - bins.y(a));
  const point = (i: number): PathPoint => [bins.time(i), bins.x(i), bins.y(i)];
  let a = 0, distance = 0;
  points.push(point(0));
  for (let i = 1; i < n - 1; i++) {
    const d = far(i, a);
    if (d >= anchorM && far(i + 1, a) >= anchorM) {
      points.push(point(i));
      distance += d;
      a = i;
    }
  }
  const tail = a !== n - 1;
  if (tail) {
    points.push(point(n - 1));
    distance += far(n - 1, a);
  }
  if (span && n > 1) {
    distance += endSpeed(bins, 0, 1) * Math.max(0, bins.time(0) - span.first) / 1000;
    distance += endSpeed(bins, n - 1, -1) * Math.max(0, span.last - bins.time(n - 1)) / 1000;
  }
  return { points, tail, distance };
}

/** Speed (m/s) from bin `end` to the farthest bin within END_SPEED_MS of it, going `dir`. */
function endSpeed(bins: SecondBins, end: number, dir: 1 | -1): number {
  const t = bins.time(end);
  let j = end + dir;
  while (j + dir >= 0 && j + dir < bins.length && Math.abs(bins.time(j + dir) - t) <= END_SPEED_MS) j += dir;
  const dt = Math.abs(bins.time(j) - t);
  if (dt <= 0) return 0;
  return (Math.hypot(bins.x(j) - bins.x(end), bins.y(j) - bins.y(end)) * 1000) / dt;
}

/** [line id, ts, +1 in / -1 out] */
export type Crossing = [string, number, 1 | -1];

/**
 * Crossings of counting lines by consecutive path points, each at the interpolated instant the
 * segment meets the line (rounded to ms), in time order, grouped by the space whose zone actor
 * counts the line (lines without a space are not counted anywhere).
 */
export function crossings(points: readonly PathPoint[], lines: readonly LineOnFloor[]): Map<string, Crossing[]> {
  const out = new Map<string, Crossing[]>();
  const seen = new Set<string>();
  const counted = lines.filter((l) => {
    if (l.space === undefined) return false;
    const key = `${l.space}\u0000${l.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (counted.length === 0) return out;
  for (let i = 1; i < points.length; i++) {
    const [t0, x0, y0] = points[i - 1]!, [t1, x1, y1] = points[i]!;
    const p: Point = [x0, y0], q: Point = [x1, y1];
    for (const l of counted) {
      const dir = segmentCrossing(p, q, l.a as Point, l.b as Point);
      if (dir === 0) continue;
      const f = meetFraction(p, q, l.a as Point, l.b as Point);
      const ts = Math.round(t0 + f * (t1 - t0));
      let list = out.get(l.space!);
      if (!list) out.set(l.space!, (list = []));
      list.push([l.id, ts, dir]);
    }
  }
  return out;
}

/** Where along p -> q (0..1) the segment meets the line through a and b. */
function meetFraction(p: Point, q: Point, a: Point, b: Point): number {
  const side = (s: Point) => (b[0] - a[0]) * (s[1] - a[1]) - (b[1] - a[1]) * (s[0] - a[0]);
  const sp = side(p), sq = side(q);
  if (sp === sq) return 0;
  return Math.min(1, Math.max(0, sp / (sp - sq)));
}

/** At most `max` points, evenly spaced in index, always keeping the first and the last. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  if (max < 2) return max === 1 ? [points[points.length - 1]!] : [];
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let k = 0; k < max; k++) out.push(points[Math.round(k * step)]!);
  return out;
}

export const cm = (v: number) => Math.round(v * 100) / 100;
