import type { Point } from "../../contracts/geometry.ts";
import { badRequest } from "../http/api-error.ts";
import type { PathPoint } from "./person-record.ts";

/**
 * The floor-plan heatmap: person-seconds per grid cell. Each person's path is walked at whole
 * seconds (epoch-aligned) from max(first point, from) to min(last point, to), the position at each
 * second interpolated linearly between the path points around it; each sample adds 1 to its cell.
 * So the counts sum to the person-seconds spent in [from, to] (a person standing still for a
 * minute adds 60 or 61 to one cell).
 *
 * Cells are anchored at the floor plan's origin (cell i covers [i*cell, (i+1)*cell)). The grid
 * covers the site's space outlines when it has any (samples outside them are counted in
 * outside_s), else the samples themselves. At most MAX_CELLS cells.
 */

export const MAX_CELLS = 250_000;
const EPS = 1e-9;

export interface Bounds { minX: number; minY: number; maxX: number; maxY: number }

export interface HeatmapResult {
  cell: number;
  /** floor coordinates (metres) of the corner of cell [0][0] */
  origin: [number, number];
  width: number;
  height: number;
  /** counts[row][col]: row 0 is the lowest y */
  counts: number[][];
  /** every sample: sum of counts + outside_s */
  person_s: number;
  /** samples outside the grid (outside every space outline's bounding box) */
  outside_s: number;
}

/** The bounding box of polygons (undefined when there are none). */
export function boundsOf(polygons: ReadonlyArray<ReadonlyArray<Point>>): Bounds | undefined {
  let b: Bounds | undefined;
  for (const poly of polygons) {
    for (const [x, y] of poly) {
      if (!b) b = { minX: x, minY: y, maxX: x, maxY: y };
      else { b.minX = Math.min(b.minX, x); b.minY = Math.min(b.minY, y); b.maxX = Math.max(b.maxX, x); b.maxY = Math.max(b.maxY, y); }
    }
  }
  return b;
}

const tooMany = (w: number, h: number, cell: number) =>
  badRequest(`invalid query: at cell=${cell} the floor plan needs ${w} x ${h} = ${w * h} cells; at most ${MAX_CELLS} (use a larger cell)`);

export class HeatGrid {
  private readonly dense: Float64Array | undefined;
  private readonly sparse = new Map<number, number>();
  private readonly ix0: number;
  private readonly iy0: number;
  private readonly w: number;
  private readonly h: number;
  private samples = 0;
  private outside = 0;

  /** `floor`: the grid's extent (space outlines); without it the grid grows to the samples. */
  constructor(readonly cell: number, floor?: Bounds) {
    if (floor) {
      this.ix0 = this.index(floor.minX);
      this.iy0 = this.index(floor.minY);
      this.w = this.index(floor.maxX) - this.ix0 + 1;
      this.h = this.index(floor.maxY) - this.iy0 + 1;
      if (this.w * this.h > MAX_CELLS) throw tooMany(this.w, this.h, cell);
      this.dense = new Float64Array(this.w * this.h);
    } else {
      this.ix0 = this.iy0 = this.w = this.h = 0;
    }
  }

  private index(v: number): number {
    return Math.floor(v / this.cell + EPS);
  }

  private add(x: number, y: number): void {
    this.samples++;
    const ix = this.index(x);
    const iy = this.index(y);
    if (this.dense) {
      const cx = ix - this.ix0;
      const cy = iy - this.iy0;
      if (cx < 0 || cy < 0 || cx >= this.w || cy >= this.h) this.outside++;
      else this.dense[cy * this.w + cx]!++;
      return;
    }
    // |index| < 2^24 (coordinates within +-1e6 m, cell >= 0.1 m): a collision-free numeric key
    const key = (ix + 2 ** 24) * 2 ** 25 + (iy + 2 ** 24);
    this.sparse.set(key, (this.sparse.get(key) ?? 0) + 1);
  }

  /** Adds a path's whole seconds within [from, to]. `path` is in time order. */
  addPath(path: readonly PathPoint[], from: number, to: number): void {
    const n = path.length;
    if (n === 0) return;
    const hi = Math.min(path[n - 1]![0], to);
    let j = 0;
    for (let t = Math.ceil(Math.max(path[0]![0], from) / 1000) * 1000; t <= hi; t += 1000) {
      while (j < n - 2 && path[j + 1]![0] < t) j++;
      const a = path[j]!;
      const b = path[Math.min(j + 1, n - 1)]!;
      const span = b[0] - a[0];
      const k = span > 0 ? Math.min(1, Math.max(0, (t - a[0]) / span)) : 1;
      this.add(a[1] + k * (b[1] - a[1]), a[2] + k * (b[2] - a[2]));
    }
  }

  result(): HeatmapResult {
    if (this.dense) {
      const counts: number[][] = [];
      for (let r = 0; r < this.h; r++) counts.push(Array.from(this.dense.subarray(r * this.w, (r + 1) * this.w)));
      return this.shape(this.ix0, this.iy0, this.w, this.h, counts);
    }
    if (this.sparse.size === 0) return this.shape(0, 0, 0, 0, []);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    const cells: Array<[number, number, number]> = [];
    for (const [key, c] of this.sparse) {
      const ix = Math.floor(key / 2 ** 25) - 2 ** 24;
      const iy = (key % 2 ** 25) - 2 ** 24;
      cells.push([ix, iy, c]);
      minX = Math.min(minX, ix); maxX = Math.max(maxX, ix); minY = Math.min(minY, iy); maxY = Math.max(maxY, iy);
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    if (w * h > MAX_CELLS) throw tooMany(w, h, this.cell);
    const counts = Array.from({ length: h }, () => new Array<number>(w).fill(0));
    for (const [ix, iy, c] of cells) counts[iy - minY]![ix - minX] = c;
    return this.shape(minX, minY, w, h, counts);
  }

  private shape(ix0: number, iy0: number, width: number, height: number, counts: number[][]): HeatmapResult {
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    return {
      cell: this.cell, origin: [round(ix0 * this.cell), round(iy0 * this.cell)], width, height, counts,
      person_s: this.samples, outside_s: this.outside,
    };
  }
}
