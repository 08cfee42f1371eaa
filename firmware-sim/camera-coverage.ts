import type { Point } from "../contracts/geometry.ts";
import type { CameraNeighbour } from "../contracts/topology.ts";
import { pointInPolygon, segmentCrossing } from "../topology/geometry/polygon.ts";
import type { CameraMallPlan } from "./camera-mall-plan.ts";
import { CameraModel } from "./camera-model.ts";

/**
 * What the cameras of a mall plan cover, on a floor grid (default 0.25 m cells): which walkable
 * cells each camera sees (the same rule the simulated firmware detects people by: the feet in the
 * image, within range, in one of the spaces the camera looks into), and from that the topology's
 * `sees` and `neighbours` (walking time between views).
 */
export interface CameraCoverage {
  readonly cellM: number;
  /** cell centres (floor metres) that the camera sees */
  coveredPoints(camera: string): Point[];
  /** spaces of which the camera sees at least minCells cells (plan order) */
  seenSpaces(camera: string, minCells?: number): string[];
  /** share of walkable cells (of one space, or all) seen by at least one camera */
  coveredShare(space?: string): number;
  /** cameras that see the cell holding p */
  camerasAt(p: Point): string[];
  /** internal grid, for neighbour search */
  readonly grid: CoverageGrid;
}

export interface CoverageGrid {
  x0: number; y0: number; nx: number; ny: number; cellM: number;
  /** space index per cell (-1: not walkable) */
  space: Int16Array;
  /** per camera (plan order): 1 where it sees the cell */
  seen: Uint8Array[];
  /** number of cameras seeing each cell */
  seenCount: Uint8Array;
}

/** Whether the camera (model + spaces it looks into) detects a person standing at p in space `space`. */
export function cameraSeesAt(model: CameraModel, sees: ReadonlySet<string>, space: string | undefined, p: Point): boolean {
  return space !== undefined && sees.has(space) && model.seesFloorPoint(p);
}

export function cameraCoverage(plan: CameraMallPlan, cellM = 0.25): CameraCoverage {
  const xs = plan.spaces.flatMap((s) => s.polygon.map((p) => p[0]));
  const ys = plan.spaces.flatMap((s) => s.polygon.map((p) => p[1]));
  const x0 = Math.min(...xs), y0 = Math.min(...ys);
  const nx = Math.ceil((Math.max(...xs) - x0) / cellM), ny = Math.ceil((Math.max(...ys) - y0) / cellM);
  const space = new Int16Array(nx * ny).fill(-1);
  const centre = (i: number): Point => [x0 + ((i % nx) + 0.5) * cellM, y0 + (Math.floor(i / nx) + 0.5) * cellM];
  for (let i = 0; i < nx * ny; i++) {
    const p = centre(i);
    const k = plan.spaces.findIndex((s) => pointInPolygon(p, s.polygon));
    space[i] = k;
  }
  const seenCount = new Uint8Array(nx * ny);
  const seen = plan.cameras.map((cam) => {
    const model = new CameraModel(cam.pose);
    const sees = new Set(cam.sees);
    const mask = new Uint8Array(nx * ny);
    for (let i = 0; i < nx * ny; i++) {
      const k = space[i]!;
      if (k >= 0 && cameraSeesAt(model, sees, plan.spaces[k]!.id, centre(i))) {
        mask[i] = 1;
        seenCount[i]!++;
      }
    }
    return mask;
  });
  const grid: CoverageGrid = { x0, y0, nx, ny, cellM, space, seen, seenCount };
  const camIndex = (camera: string) => {
    const k = plan.cameras.findIndex((c) => c.id === camera);
    if (k < 0) throw new RangeError(`unknown camera "${camera}"`);
    return k;
  };
  return {
    cellM,
    grid,
    coveredPoints(camera) {
      const mask = seen[camIndex(camera)]!;
      const out: Point[] = [];
      for (let i = 0; i < mask.length; i++) if (mask[i]) out.push(centre(i));
      return out;
    },
    seenSpaces(camera, minCells = 16) {
      const mask = seen[camIndex(camera)]!;
      const counts = new Array<number>(plan.spaces.length).fill(0);
      for (let i = 0; i < mask.length; i++) if (mask[i]) counts[space[i]!]!++;
      return plan.spaces.filter((_, k) => counts[k]! >= minCells).map((s) => s.id);
    },
    coveredShare(spaceId) {
      const k = spaceId === undefined ? undefined : plan.spaces.findIndex((s) => s.id === spaceId);
      if (k === -1) throw new RangeError(`unknown space "${spaceId}"`);
      let walkable = 0, covered = 0;
      for (let i = 0; i < space.length; i++) {
        if (space[i]! < 0 || (k !== undefined && space[i] !== k)) continue;
        walkable++;
        if (seenCount[i]! > 0) covered++;
      }
      return walkable === 0 ? 0 : covered / walkable;
    },
    camerasAt(p) {
      const cx = Math.floor((p[0] - x0) / cellM), cy = Math.floor((p[1] - y0) / cellM);
      if (cx < 0 || cy < 0 || cx >= nx || cy >= ny) return [];
      const i = cy * nx + cx;
      return plan.cameras.filter((_, k) => seen[k]![i] === 1).map((c) => c.id);
    },
  };
}

export interface NeighbourOptions {
  /** slowest walking speed for the window's upper end (default 0.6 m/s) */
  minSpeedMps?: number;
  /** fastest walking speed for the window's lower end (default 2.0 m/s) */
  maxSpeedMps?: number;
  /** added to max_s and taken off min_s (default 2 s) */
  slackS?: number;
  /** max_s of two views that overlap (default 2 s) */
  overlapMaxS?: number;
  /** cells both must see to count as overlapping (default 4, i.e. 0.25 m² with 0.25 m cells) */
  minOverlapCells?: number;
}

/** A small binary min-heap of grid cells by distance. */
class CellHeap {
  private readonly cells: number[] = [];
  private readonly keys: number[] = [];
  get size(): number { return this.cells.length; }
  push(cell: number, key: number): void {
    const c = this.cells, k = this.keys;
    c.push(cell); k.push(key);
    let i = c.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (k[p]! <= k[i]!) break;
      [c[p], c[i]] = [c[i]!, c[p]!];
      [k[p], k[i]] = [k[i]!, k[p]!];
      i = p;
    }
  }
  pop(): [number, number] {
    const c = this.cells, k = this.keys;
    const top: [number, number] = [c[0]!, k[0]!];
    const lc = c.pop()!, lk = k.pop()!;
    if (c.length > 0) {
      c[0] = lc; k[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < c.length && k[l]! < k[m]!) m = l;
        if (r < c.length && k[r]! < k[m]!) m = r;
        if (m === i) break;
        [c[m], c[i]] = [c[i]!, c[m]!];
        [k[m], k[i]] = [k[i]!, k[m]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Neighbour cameras and their walking-time windows, both directions listed:
 * - views that overlap (>= minOverlapCells cells seen by both): min_s 0, max_s overlapMaxS;
 * - views joined by floor that no camera sees: the shortest walk between them through unseen
 *   cells (8-connected grid, through doorways only, never through walls) is the gap g; the
 *   window is [max(0, g / maxSpeed - slack), g / minSpeed + slack] seconds (0.1 s steps).
 * Cameras whose views touch only through a third camera's view are not neighbours.
 */
export function cameraNeighbours(plan: CameraMallPlan, coverage: CameraCoverage, opts: NeighbourOptions = {}): Map<string, CameraNeighbour[]> {
  const { x0, y0, nx, ny, cellM, space, seen, seenCount } = coverage.grid;
  const minSpeed = opts.minSpeedMps ?? 0.6, maxSpeed = opts.maxSpeedMps ?? 2.0, slack = opts.slackS ?? 2;
  const overlapMax = opts.overlapMaxS ?? 2, minOverlap = opts.minOverlapCells ?? 4;
  const n = plan.cameras.length;
  const centre = (i: number): Point => [x0 + ((i % nx) + 0.5) * cellM, y0 + (Math.floor(i / nx) + 0.5) * cellM];
  // doorway segments between each pair of space indexes
  const doors = new Map<string, Array<[Point, Point]>>();
  const ix = new Map(plan.spaces.map((s, k) => [s.id, k]));
  for (const d of plan.doorways) {
    const a = ix.get(d.exiting_to), b = ix.get(d.entering_to);
    if (a === undefined || b === undefined) continue;
    for (const key of [`${a}:${b}`, `${b}:${a}`]) {
      const list = doors.get(key) ?? [];
      list.push([d.a, d.b]);
      doors.set(key, list);
    }
  }
  const passable = (i: number, j: number): boolean => {
    const si = space[i]!, sj = space[j]!;
    if (si < 0 || sj < 0) return false;
    if (si === sj) return true;
    const segs = doors.get(`${si}:${sj}`);
    if (!segs) return false;
    const p = centre(i), q = centre(j);
    return segs.some(([a, b]) => segmentCrossing(p, q, a, b) !== 0);
  };
  const steps: Array<[number, number, number]> = [];
  for (const dx of [-1, 0, 1]) for (const dy of [-1, 0, 1]) if (dx !== 0 || dy !== 0) steps.push([dx, dy, Math.hypot(dx, dy) * cellM]);

  const gap = Array.from({ length: n }, () => new Array<number>(n).fill(Infinity));
  const overlap = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let both = 0;
      const sa = seen[a]!, sb = seen[b]!;
      for (let i = 0; i < sa.length && both < minOverlap; i++) if (sa[i] && sb[i]) both++;
      if (both >= minOverlap) overlap[a]![b] = overlap[b]![a] = true;
    }
    // Dijkstra from a's view through cells nobody sees; stop at any other camera's cells
    const dist = new Float64Array(nx * ny).fill(Infinity);
    const heap = new CellHeap();
    const sa = seen[a]!;
    for (let i = 0; i < sa.length; i++) if (sa[i]) { dist[i] = 0; heap.push(i, 0); }
    while (heap.size > 0) {
      const [i, d] = heap.pop();
      if (d > dist[i]!) continue;
      if (d > 0 && seenCount[i]! > 0) continue; // reached another camera's view: do not walk through it
      const cx = i % nx, cy = Math.floor(i / nx);
      for (const [dx, dy, len] of steps) {
        const x = cx + dx, y = cy + dy;
        if (x < 0 || y < 0 || x >= nx || y >= ny) continue;
        const j = y * nx + x;
        const nd = d + len;
        if (nd >= dist[j]! || !passable(i, j)) continue;
        dist[j] = nd;
        if (seenCount[j]! > 0 && !sa[j]) {
          for (let b = 0; b < n; b++) if (b !== a && seen[b]![j] && nd < gap[a]![b]!) gap[a]![b] = nd;
        }
        heap.push(j, nd);
      }
    }
  }
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const out = new Map<string, CameraNeighbour[]>();
  for (let a = 0; a < n; a++) {
    const list: CameraNeighbour[] = [];
    for (let b = 0; b < n; b++) {
      if (a === b) continue;
      const g = Math.min(gap[a]![b]!, gap[b]![a]!);
      if (!overlap[a]![b] && !Number.isFinite(g)) continue;
      const viaGap = Number.isFinite(g) ? { min_s: r1(Math.max(0, g / maxSpeed - slack)), max_s: r1(g / minSpeed + slack) } : undefined;
      const win = overlap[a]![b]
        ? { min_s: 0, max_s: r1(Math.max(overlapMax, viaGap?.max_s ?? 0)) }
        : viaGap!;
      list.push({ camera: plan.cameras[b]!.id, ...win });
    }
    out.set(plan.cameras[a]!.id, list);
  }
  return out;
}
