import { COLOURS, type Colour } from "../contracts/detection.ts";
import type { Point } from "../contracts/geometry.ts";
import { OUTSIDE } from "../contracts/ids.ts";
import { pointInPolygon } from "../topology/geometry/polygon.ts";
import { centroid, gaussian } from "./camera-mall.ts";
import type { CameraMallPlan, MallDoorway, MallSpace } from "./camera-mall-plan.ts";
import { chance, deriveSeed, mulberry32, pickOne, shuffle, uniform, type Rng } from "./random.ts";
import type { SimCrossing } from "./ground-truth.ts";

/**
 * Continuous walkers for the camera mall: each one comes in through an entrance's street doors,
 * walks to 1-3 shops (through doorways, straight lines between waypoints inside one convex space,
 * so never through a wall), walks to 2-4 random points in each shop and pauses there, and leaves
 * through an entrance. Position is a function of time (piecewise linear legs).
 */

export interface Clothes { upper: Colour; lower: Colour; shoes: Colour }

/**
 * Shares of each colour worn (sum 1), roughly what street surveys report: dark and neutral
 * colours dominate, jeans make lower-body blue common, white and black dominate shoes.
 */
export const CLOTHES_DISTRIBUTION: Record<keyof Clothes, Record<Colour, number>> = {
  upper: { black: 0.2, white: 0.13, grey: 0.12, blue: 0.17, red: 0.07, green: 0.06, beige: 0.05, brown: 0.04, yellow: 0.04, pink: 0.04, purple: 0.04, orange: 0.04 },
  lower: { black: 0.3, blue: 0.3, grey: 0.12, beige: 0.08, brown: 0.06, white: 0.05, green: 0.03, red: 0.02, purple: 0.01, pink: 0.01, orange: 0.01, yellow: 0.01 },
  shoes: { black: 0.32, white: 0.3, grey: 0.1, brown: 0.1, blue: 0.05, beige: 0.05, red: 0.03, pink: 0.01, green: 0.01, orange: 0.01, yellow: 0.01, purple: 0.01 },
};

/** A colour drawn from a distribution. */
export function drawColour(rng: Rng, dist: Record<Colour, number>): Colour {
  let u = rng();
  for (const c of COLOURS) {
    u -= dist[c];
    if (u < 0) return c;
  }
  return COLOURS[COLOURS.length - 1]!;
}

/** One straight piece of a walk (a pause when start and end are the same point), inside one space. */
export interface Leg {
  t0: number; t1: number;
  x0: number; y0: number; x1: number; y1: number;
  space: string;
}

/** A doorway passage on the walk (the walker is on the door's floor segment at ts). */
export interface DoorPassage { doorway: string; ts: number; from: string; to: string }

export interface CameraWalker {
  id: string;
  clothes: Clothes;
  heightM: number;
  speedMps: number;
  /** at the street doors, coming in (epoch ms) */
  enterTs: number;
  /** at the street doors, going out (may be after the run's end) */
  leaveTs: number;
  shops: string[];
  legs: Leg[];
  doors: DoorPassage[];
}

export interface WalkBehaviour {
  /** shops visited, uniform in [min, max] (default [1, 3]) */
  shopsPerVisit: [number, number];
  /** points walked to inside a shop (default [2, 4]) */
  pointsPerShop: [number, number];
  /** pause at each point in a shop (default [5 s, 40 s]) */
  pauseMs: [number, number];
  /** walking speed, uniform per walker (default [1.0, 1.5] m/s) */
  speedMps: [number, number];
  /** person height, normal around 1.72 m (sd 0.08) clipped to this range (default [1.58, 1.92]) */
  heightM: [number, number];
}

export const DEFAULT_WALK: WalkBehaviour = {
  shopsPerVisit: [1, 3], pointsPerShop: [2, 4], pauseMs: [5_000, 40_000], speedMps: [1.0, 1.5], heightM: [1.58, 1.92],
};

export interface CameraWalkerOptions extends Partial<WalkBehaviour> {
  plan: CameraMallPlan;
  walkers: number;
  /** epoch ms of the run's start */
  startTs: number;
  durationMs: number;
  seed: number;
  /** arrivals fall in [startTs, startTs + arrivalWindowMs) (default durationMs) */
  arrivalWindowMs?: number;
}

/** Keep waypoints this far from walls (m). */
const WALL_MARGIN = 0.6;
/** Approach points this far in front of a door (m). */
const DOOR_APPROACH = 0.5;
/** Corridor legs longer than this get a lateral waypoint (m). */
const LANE_LEG = 10;

const dist = (a: Point, b: Point) => Math.hypot(b[0] - a[0], b[1] - a[1]);

/** Distance from p to the polygon's boundary. */
function edgeDistance(p: Point, poly: readonly Point[]): number {
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[j]!, b = poly[i]!;
    const dx = b[0] - a[0], dy = b[1] - a[1];
    const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
    best = Math.min(best, Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy));
  }
  return best;
}

/** Inside the polygon and at least margin from its boundary. */
export const insideWithMargin = (p: Point, poly: readonly Point[], margin: number) => pointInPolygon(p, poly) && edgeDistance(p, poly) >= margin;

/** A random point of the polygon at least margin from its walls (rejection sampling in its bounding box). */
function randomPointIn(rng: Rng, poly: readonly Point[], margin: number): Point {
  const xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  for (let i = 0; i < 1000; i++) {
    const p: Point = [uniform(rng, x0 + margin, x1 - margin), uniform(rng, y0 + margin, y1 - margin)];
    if (insideWithMargin(p, poly, margin)) return p;
  }
  return centroid(poly);
}

/** The walkable structure of a plan: spaces, and doorways between them (outside excluded). */
class MallNav {
  readonly spaces = new Map<string, MallSpace>();
  private readonly doorsFrom = new Map<string, MallDoorway[]>();

  constructor(readonly plan: CameraMallPlan) {
    for (const s of plan.spaces) { this.spaces.set(s.id, s); this.doorsFrom.set(s.id, []); }
    for (const d of plan.doorways) {
      if (d.exiting_to !== OUTSIDE) this.doorsFrom.get(d.exiting_to)?.push(d);
      if (d.entering_to !== OUTSIDE) this.doorsFrom.get(d.entering_to)?.push(d);
    }
  }

  /** The doorways to cross from one space to another (fewest doorways, breadth-first). */
  route(from: string, to: string): MallDoorway[] {
    if (from === to) return [];
    const prev = new Map<string, [string, MallDoorway]>();
    const queue = [from];
    const seen = new Set([from]);
    for (let i = 0; i < queue.length; i++) {
      const here = queue[i]!;
      for (const d of this.doorsFrom.get(here) ?? []) {
        const next = d.exiting_to === here ? d.entering_to : d.exiting_to;
        if (next === OUTSIDE || seen.has(next)) continue;
        seen.add(next);
        prev.set(next, [here, d]);
        if (next === to) {
          const doors: MallDoorway[] = [];
          for (let s = to; s !== from;) { const [p, door] = prev.get(s)!; doors.unshift(door); s = p; }
          return doors;
        }
        queue.push(next);
      }
    }
    throw new Error(`no way from "${from}" to "${to}"`);
  }

  /** Unit normal of a doorway pointing into `space`. */
  normalInto(d: MallDoorway, space: string): Point {
    const len = dist(d.a, d.b);
    const ux = (d.b[0] - d.a[0]) / len, uy = (d.b[1] - d.a[1]) / len;
    let n: Point = [-uy, ux];
    const s = this.spaces.get(space);
    const mid: Point = [(d.a[0] + d.b[0]) / 2, (d.a[1] + d.b[1]) / 2];
    if (s) {
      const probe: Point = [mid[0] + n[0] * 0.1, mid[1] + n[1] * 0.1];
      if (!pointInPolygon(probe, s.polygon)) n = [-n[0], -n[1]];
    } else {
      // outside: the normal pointing away from the other space
      const other = this.spaces.get(d.exiting_to === space ? d.entering_to : d.exiting_to)!;
      const probe: Point = [mid[0] + n[0] * 0.1, mid[1] + n[1] * 0.1];
      if (pointInPolygon(probe, other.polygon)) n = [-n[0], -n[1]];
    }
    return n;
  }

  /** A random point on the doorway's segment, away from its ends. */
  pointOn(rng: Rng, d: MallDoorway): Point {
    const len = dist(d.a, d.b);
    const m = Math.min(0.45, len / 4);
    const t = uniform(rng, m, len - m) / len;
    return [d.a[0] + t * (d.b[0] - d.a[0]), d.a[1] + t * (d.b[1] - d.a[1])];
  }

  streetDoors(): MallDoorway[] {
    return this.plan.doorways.filter((d) => (d.exiting_to === OUTSIDE) !== (d.entering_to === OUTSIDE));
  }

  insideOf(d: MallDoorway): string { return d.exiting_to === OUTSIDE ? d.entering_to : d.exiting_to; }
}

/** Builds one walker's legs as it walks: goTo within the current space, through doors, pauses. */
class WalkBuilder {
  readonly legs: Leg[] = [];
  readonly doors: DoorPassage[] = [];
  private pos: Point;
  private t: number;

  constructor(private readonly nav: MallNav, private readonly rng: Rng, private readonly speed: number,
    start: Point, startTs: number, public space: string) {
    this.pos = start;
    this.t = startTs;
  }

  get now(): number { return this.t; }

  /** Straight to p inside the current space (a lateral waypoint first on long corridor legs). */
  walkTo(p: Point): void {
    const s = this.nav.spaces.get(this.space)!;
    if (s.kind === "corridor" && dist(this.pos, p) > LANE_LEG) {
      const mid: Point = [(this.pos[0] + p[0]) / 2, (this.pos[1] + p[1]) / 2];
      const len = dist(this.pos, p);
      const n: Point = [-(p[1] - this.pos[1]) / len, (p[0] - this.pos[0]) / len];
      let off = gaussian(this.rng) * 1.2;
      for (let i = 0; i < 6; i++, off /= 2) {
        const q: Point = [mid[0] + n[0] * off, mid[1] + n[1] * off];
        if (insideWithMargin(q, s.polygon, WALL_MARGIN)) { this.step(q); break; }
      }
    }
    this.step(p);
  }

  private step(p: Point): void {
    const d = dist(this.pos, p);
    if (d < 1e-9) return;
    const t1 = this.t + (d / this.speed) * 1000;
    this.legs.push({ t0: this.t, t1, x0: this.pos[0], y0: this.pos[1], x1: p[0], y1: p[1], space: this.space });
    this.pos = p;
    this.t = t1;
  }

  pause(ms: number): void {
    if (ms <= 0) return;
    this.legs.push({ t0: this.t, t1: this.t + ms, x0: this.pos[0], y0: this.pos[1], x1: this.pos[0], y1: this.pos[1], space: this.space });
    this.t += ms;
  }

  /** Through a doorway into `to`: approach point, the door, a step in. */
  cross(d: MallDoorway, to: string): void {
    const n = this.nav.normalInto(d, to);
    const door = this.nav.pointOn(this.rng, d);
    this.walkTo([door[0] - n[0] * DOOR_APPROACH, door[1] - n[1] * DOOR_APPROACH]);
    this.step(door);
    this.doors.push({ doorway: d.id, ts: this.t, from: this.space, to });
    this.space = to;
    if (to !== OUTSIDE) this.step([door[0] + n[0] * DOOR_APPROACH, door[1] + n[1] * DOOR_APPROACH]);
  }

  /** Through the doorways from the current space into `target`. */
  goToSpace(target: string): void {
    for (const d of this.nav.route(this.space, target)) {
      this.cross(d, d.exiting_to === this.space ? d.entering_to : d.exiting_to);
    }
  }
}

const intIn = (rng: Rng, [lo, hi]: [number, number]) => lo + Math.floor(rng() * (hi - lo + 1));

/** One walker's whole visit from arrivalTs (doors, shops, pauses), however long it takes. */
function walkerVisit(nav: MallNav, rng: Rng, id: string, arrivalTs: number, b: WalkBehaviour): CameraWalker {
  const clothes: Clothes = {
    upper: drawColour(rng, CLOTHES_DISTRIBUTION.upper),
    lower: drawColour(rng, CLOTHES_DISTRIBUTION.lower),
    shoes: drawColour(rng, CLOTHES_DISTRIBUTION.shoes),
  };
  const heightM = Math.min(b.heightM[1], Math.max(b.heightM[0], 1.72 + 0.08 * gaussian(rng)));
  const speedMps = uniform(rng, b.speedMps[0], b.speedMps[1]);
  const street = nav.streetDoors();
  const entrance = pickOne(rng, street);
  const hall = nav.insideOf(entrance);
  const start = nav.pointOn(rng, entrance);
  const w = new WalkBuilder(nav, rng, speedMps, start, arrivalTs, hall);
  w.doors.push({ doorway: entrance.id, ts: arrivalTs, from: OUTSIDE, to: hall });
  const inward = nav.normalInto(entrance, hall);
  w.walkTo([start[0] + inward[0] * DOOR_APPROACH, start[1] + inward[1] * DOOR_APPROACH]);

  const shopIds = nav.plan.spaces.filter((s) => s.kind === "shop").map((s) => s.id);
  const shops = shuffle(rng, [...shopIds]).slice(0, Math.min(shopIds.length, intIn(rng, b.shopsPerVisit)));
  for (const shop of shops) {
    w.goToSpace(shop);
    const poly = nav.spaces.get(shop)!.polygon;
    const points = intIn(rng, b.pointsPerShop);
    for (let i = 0; i < points; i++) {
      w.walkTo(randomPointIn(rng, poly, 0.8));
      w.pause(uniform(rng, b.pauseMs[0], b.pauseMs[1]));
    }
  }
  // out: half the walkers by the entrance nearest to where they are, the others by a random one
  const here = w.legs[w.legs.length - 1]!;
  const nearest = [...street].sort((d1, d2) => dist([here.x1, here.y1], d1.a) - dist([here.x1, here.y1], d2.a))[0]!;
  const exit = chance(rng, 0.5) ? nearest : pickOne(rng, street);
  w.goToSpace(nav.insideOf(exit));
  w.cross(exit, OUTSIDE);
  return { id, clothes, heightM, speedMps, enterTs: arrivalTs, leaveTs: w.now, shops, legs: w.legs, doors: w.doors };
}

/**
 * Walkers arriving over the run: `walkers` arrival instants uniform in the arrival window (a
 * Poisson process conditioned on its count), each walking a whole visit. Deterministic for a seed.
 * Visits are not cut at the run's end: the truth clips them (camera-truth.ts).
 */
export function simulateCameraWalkers(opts: CameraWalkerOptions): CameraWalker[] {
  if (!Number.isInteger(opts.walkers) || opts.walkers < 0) throw new RangeError("walkers must be a non-negative integer");
  if (!(opts.durationMs > 0)) throw new RangeError("durationMs must be positive");
  const b: WalkBehaviour = {
    shopsPerVisit: opts.shopsPerVisit ?? DEFAULT_WALK.shopsPerVisit,
    pointsPerShop: opts.pointsPerShop ?? DEFAULT_WALK.pointsPerShop,
    pauseMs: opts.pauseMs ?? DEFAULT_WALK.pauseMs,
    speedMps: opts.speedMps ?? DEFAULT_WALK.speedMps,
    heightM: opts.heightM ?? DEFAULT_WALK.heightM,
  };
  const nav = new MallNav(opts.plan);
  const window = Math.min(opts.arrivalWindowMs ?? opts.durationMs, opts.durationMs);
  const arrivalsRng = mulberry32(deriveSeed(opts.seed, "camera-arrivals"));
  const arrivals = Array.from({ length: opts.walkers }, () => Math.floor(uniform(arrivalsRng, opts.startTs, opts.startTs + window)))
    .sort((x, y) => x - y);
  return arrivals.map((t, i) => walkerVisit(nav, mulberry32(deriveSeed(opts.seed, `camera-walker:${i}`)), `w${i}`, t, b));
}

/** Where a walker is at ts (x, y and the space of the leg), or undefined outside [enterTs, leaveTs]. */
export function walkerPosition(w: CameraWalker, ts: number): { x: number; y: number; space: string } | undefined {
  if (ts < w.enterTs || ts > w.leaveTs || w.legs.length === 0) return undefined;
  let lo = 0, hi = w.legs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (w.legs[mid]!.t1 < ts) lo = mid + 1;
    else hi = mid;
  }
  return legPoint(w.legs[lo]!, ts);
}

function legPoint(l: Leg, ts: number): { x: number; y: number; space: string } {
  const f = l.t1 > l.t0 ? Math.min(1, Math.max(0, (ts - l.t0) / (l.t1 - l.t0))) : 1;
  return { x: l.x0 + f * (l.x1 - l.x0), y: l.y0 + f * (l.y1 - l.y0), space: l.space };
}

/**
 * Positions of many walkers at non-decreasing instants, each walker keeping its own leg index
 * (no search): what the frame generator uses, frames being produced in time order.
 */
export class WalkerCursor {
  private readonly leg: Int32Array;
  constructor(readonly walkers: readonly CameraWalker[]) {
    this.leg = new Int32Array(walkers.length);
  }
  /** Position of walker i at ts (ts must not decrease between calls for the same walker). */
  at(i: number, ts: number): { x: number; y: number; space: string } | undefined {
    const w = this.walkers[i]!;
    if (ts < w.enterTs || ts > w.leaveTs) return undefined;
    let k = this.leg[i]!;
    while (k < w.legs.length - 1 && w.legs[k]!.t1 < ts) k++;
    this.leg[i] = k;
    return legPoint(w.legs[k]!, ts);
  }
}

/**
 * The doorway crossings of the walkers before endTs as DPU crossings (each doorway's DPU from the
 * plan), in time order: lets a DPU-based count run in the same simulated world.
 */
export function walkerDoorCrossings(plan: CameraMallPlan, walkers: readonly CameraWalker[], endTs: number): SimCrossing[] {
  const dpuOf = new Map(plan.dpus.map((d) => [d.doorway, d.id]));
  const door = new Map(plan.doorways.map((d) => [d.id, d]));
  const out: SimCrossing[] = [];
  for (const w of walkers) {
    for (const p of w.doors) {
      if (p.ts >= endTs) break;
      const device = dpuOf.get(p.doorway);
      if (device === undefined) continue;
      const d = door.get(p.doorway)!;
      out.push({ device, doorway: p.doorway, ts: Math.round(p.ts), delta: d.entering_to === p.to ? 1 : -1, walker: w.id, from: p.from, to: p.to });
    }
  }
  return out.sort((a, b) => a.ts - b.ts);
}
