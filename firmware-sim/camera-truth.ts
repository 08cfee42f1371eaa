import type { Colour } from "../contracts/detection.ts";
import type { Point } from "../contracts/geometry.ts";
import { segmentCrossing } from "../topology/geometry/polygon.ts";
import type { CameraMallPlan } from "./camera-mall-plan.ts";
import { walkerPosition, type CameraWalker, type Leg } from "./camera-walkers.ts";

/**
 * Ground truth of a camera simulation: what really happened, recorded by the simulator and never
 * sent to the system. Evaluation (tracking metrics, path-query precision/recall, distance error,
 * zone occupancy) compares the system's answers with it.
 *
 * Per person: identity, clothes, height, when they came in and left, the true path, the distance
 * really walked during the run, and the spaces visited. Per camera frame (camera, seq): who was
 * in view (detected or not), who was hidden by a nearer person, and each detection's true person
 * (null for a false positive). All times are epoch ms; positions floor-plan metres.
 */

/** A visit of a space: [space, enter, leave) in epoch ms (leave = the run's end if still there). */
export type TrueVisit = [space: string, enter: number, leave: number];

export interface TruePerson {
  id: string;
  upper: Colour;
  lower: Colour;
  shoes: Colour;
  heightM: number;
  speedMps: number;
  /** came in through the street doors (epoch ms) */
  enterTs: number;
  /** went out through the street doors; null when still inside at the run's end */
  leaveTs: number | null;
  /** the true path during the run: [ts, x, y] at every waypoint (a pause shows as two samples at one point) */
  path: Array<[number, number, number]>;
  /** length of the path walked during the run (m) */
  distanceM: number;
  visits: TrueVisit[];
}

/** What one camera frame really showed. */
export interface FrameTruth {
  camera: string;
  seq: number;
  frameTs: number;
  /** persons in the camera's view (feet in the image, within range, in a space it looks into), detected or not */
  visible: string[];
  /** those of `visible` mostly hidden behind a nearer person (never detected) */
  occluded: string[];
  /** every detection of the frame: [oid, true person id, or null for a false positive] */
  detections: Array<[oid: string, person: string | null]>;
}

/** A crossing of a counting line by a person: +1 from its left to its right (looking from a to b), -1 back. */
export interface TrueLineCrossing { person: string; ts: number; dir: 1 | -1 }

export class CameraTruth {
  readonly persons: TruePerson[];
  private readonly byId = new Map<string, TruePerson>();
  private readonly walkerById = new Map<string, CameraWalker>();
  private readonly frameList: FrameTruth[] = [];
  private readonly framesByCamera = new Map<string, Map<number, FrameTruth>>();
  private oidIndex: Map<string, string | null> | undefined;
  /** per space: sorted enter and leave instants of every visit (unclipped, for counts inside the run) */
  private readonly zoneEnter = new Map<string, number[]>();
  private readonly zoneLeave = new Map<string, number[]>();

  constructor(readonly plan: CameraMallPlan, readonly walkers: readonly CameraWalker[], readonly startTs: number, readonly endTs: number) {
    for (const s of plan.spaces) { this.zoneEnter.set(s.id, []); this.zoneLeave.set(s.id, []); }
    this.persons = [];
    for (const w of walkers) {
      this.walkerById.set(w.id, w);
      if (w.enterTs >= endTs) continue;
      const p = personTruth(w, endTs);
      this.persons.push(p);
      this.byId.set(p.id, p);
      // unclipped visits for zoneCountAt
      let cur: string | undefined, since = 0;
      for (const l of w.legs) {
        if (l.space !== cur) {
          if (cur !== undefined) this.addVisit(cur, since, l.t0);
          cur = l.space;
          since = l.t0;
        }
      }
      if (cur !== undefined) this.addVisit(cur, since, w.leaveTs);
    }
    for (const list of [...this.zoneEnter.values(), ...this.zoneLeave.values()]) list.sort((a, b) => a - b);
  }

  private addVisit(space: string, enter: number, leave: number): void {
    if (enter >= this.endTs) return;
    this.zoneEnter.get(space)?.push(enter);
    this.zoneLeave.get(space)?.push(leave);
  }

  get site(): string { return this.plan.site; }

  person(id: string): TruePerson | undefined { return this.byId.get(id); }

  /** The walker model behind a person (legs, clothes): for simulated extractors and tools. */
  walker(id: string): CameraWalker | undefined { return this.walkerById.get(id); }

  /** True position of a person at ts, or undefined when not inside the mall then. */
  positionAt(person: string, ts: number): { x: number; y: number; space: string } | undefined {
    const w = this.walkerById.get(person);
    return w && ts < this.endTs ? walkerPosition(w, ts) : undefined;
  }

  /** Persons inside the space's polygon at ts (for ts in [startTs, endTs)). */
  zoneCountAt(space: string, ts: number): number {
    const enters = this.zoneEnter.get(space);
    if (!enters) throw new RangeError(`unknown space "${space}"`);
    return countAtOrBefore(enters, ts) - countAtOrBefore(this.zoneLeave.get(space)!, ts);
  }

  /** Records one frame (the simulator calls this as it renders frames). */
  recordFrame(f: FrameTruth): void {
    let byCam = this.framesByCamera.get(f.camera);
    if (!byCam) this.framesByCamera.set(f.camera, (byCam = new Map()));
    if (byCam.has(f.seq)) throw new Error(`frame ${f.camera}#${f.seq} recorded twice`);
    byCam.set(f.seq, f);
    this.frameList.push(f);
    if (this.oidIndex) for (const [oid, p] of f.detections) this.oidIndex.set(`${f.camera}\n${oid}`, p);
  }

  /** Every recorded frame, in the order they were rendered (time order across cameras). */
  get frames(): readonly FrameTruth[] { return this.frameList; }

  frame(camera: string, seq: number): FrameTruth | undefined { return this.framesByCamera.get(camera)?.get(seq); }

  /** Cameras with recorded frames. */
  cameras(): string[] { return [...this.framesByCamera.keys()]; }

  /** The true person of a detection: a person id, null for a false positive, undefined for an unknown oid. */
  personOf(camera: string, oid: string): string | null | undefined {
    if (!this.oidIndex) {
      this.oidIndex = new Map();
      for (const f of this.frameList) for (const [o, p] of f.detections) this.oidIndex.set(`${f.camera}\n${o}`, p);
    }
    return this.oidIndex.get(`${camera}\n${oid}`);
  }

  /** Persons visible in at least one frame (of one camera, or any). */
  seenPersons(camera?: string): Set<string> {
    const out = new Set<string>();
    for (const f of this.frameList) if (camera === undefined || f.camera === camera) for (const p of f.visible) out.add(p);
    return out;
  }

  /** Crossings of a counting line (floor segment a-b) by every person during the run, in time order. */
  lineCrossings(line: { a: Point; b: Point }): TrueLineCrossing[] {
    const out: TrueLineCrossing[] = [];
    for (const w of this.walkers) {
      for (const l of w.legs) {
        if (l.t0 >= this.endTs) break;
        if (l.x0 === l.x1 && l.y0 === l.y1) continue;
        const dir = segmentCrossing([l.x0, l.y0], [l.x1, l.y1], line.a, line.b);
        if (dir === 0) continue;
        const ts = crossingTime(l, line.a, line.b);
        if (ts < this.endTs) out.push({ person: w.id, ts, dir });
      }
    }
    return out.sort((x, y) => x.ts - y.ts);
  }
}

/** Number of sorted values <= ts. */
function countAtOrBefore(sorted: readonly number[], ts: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** When a leg crosses the line through a-b (interpolated). */
function crossingTime(l: Leg, a: Point, b: Point): number {
  const side = (x: number, y: number) => (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
  const s0 = side(l.x0, l.y0), s1 = side(l.x1, l.y1);
  const f = s0 === s1 ? 0 : s0 / (s0 - s1);
  return Math.round(l.t0 + f * (l.t1 - l.t0));
}

/** A walker's truth clipped to the run's end. */
function personTruth(w: CameraWalker, endTs: number): TruePerson {
  const path: Array<[number, number, number]> = [];
  const visits: TrueVisit[] = [];
  let distanceM = 0;
  const first = w.legs[0];
  if (first) path.push([Math.round(first.t0), first.x0, first.y0]);
  for (const l of w.legs) {
    if (l.t0 >= endTs) break;
    const cut = l.t1 > endTs;
    const f = cut ? (endTs - l.t0) / (l.t1 - l.t0) : 1;
    const x = l.x0 + f * (l.x1 - l.x0), y = l.y0 + f * (l.y1 - l.y0);
    distanceM += Math.hypot(x - l.x0, y - l.y0);
    path.push([Math.round(cut ? endTs : l.t1), x, y]);
    const last = visits[visits.length - 1];
    const leave = Math.round(Math.min(l.t1, endTs));
    if (last && last[0] === l.space) last[2] = leave;
    else visits.push([l.space, Math.round(l.t0), leave]);
  }
  return {
    id: w.id, upper: w.clothes.upper, lower: w.clothes.lower, shoes: w.clothes.shoes,
    heightM: w.heightM, speedMps: w.speedMps, enterTs: Math.round(w.enterTs),
    leaveTs: w.leaveTs < endTs ? Math.round(w.leaveTs) : null,
    path, distanceM, visits,
  };
}
