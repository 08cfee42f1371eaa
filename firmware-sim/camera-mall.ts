import { randomBytes } from "node:crypto";
import type { Point } from "../contracts/geometry.ts";
import { OUTSIDE } from "../contracts/ids.ts";
import type { CountingLine, DeviceDef, DoorwayDef, SpaceDef, TopologyDocIn } from "../contracts/topology.ts";
import { dpuIdFor, type PlanDpu } from "./building.ts";
import type { CameraMallPlan, MallCamera, MallDoorway, MallSpace, MallSpaceKind } from "./camera-mall-plan.ts";
import { cameraCoverage, cameraNeighbours, type CameraCoverage, type NeighbourOptions } from "./camera-coverage.ts";
import { CameraModel, deg, type CameraPose } from "./camera-model.ts";
import { deriveSeed, mulberry32, type Rng } from "./random.ts";

/**
 * The plan of a mall watched by cameras (floor-plan metres, x east, y north):
 *
 *   y 30 ┌─shop-e──┐  ┌─shop-f─┐   ┌──shop-g──┐
 *        │ pharmacy│  │  cafe  │   │   toys   │
 *   y 18 ┌────────────────────────┬──────────────────────┐
 *  west  │     corridor-west      │    corridor-east     │  east
 *  hall  │  c1 ->       <- c2 c3 ->         <- c4 c5 ->  │  hall
 *   y 12 └────────────────────────┴──────────────────────┘
 *        │ shop-a  │  │ shop-b  │   │ shop-c │  │ shop-d │
 *   y  0 └─fashion─┘  └─books───┘   └electro─┘  └─sports─┘
 *       x -10   0                  44                    88   98
 *
 * Every space is a convex polygon (walkers walk straight lines between waypoints inside one space
 * and cross into the next only through a doorway's floor segment, so they never cross a wall).
 * 14 cameras: one in a back corner of each of the 7 shops (sees only its shop), one per entrance
 * hall (sees the hall and the corridor's first metres), five on the corridor ceiling looking along
 * it; corridor views overlap pairwise (c1/c2, c3/c4, entrances with c1 and c5) and leave two blind
 * stretches of ~6 m under the back-to-back pairs c2|c3 and c4|c5.
 */


export interface CameraMallOptions {
  /** device ids "{site}-cam-..." and "{site}-dpu-..." (device ids are unique across an installation) */
  siteScopedIds?: boolean;
}

const rect = (x0: number, y0: number, x1: number, y1: number): Point[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];

/** Image size of the simulated cameras. */
const IMAGE = { width: 1280, height: 720 } as const;

/** A counting line across a doorway, `insetM` into `into`, oriented so that walking into `into` is "in" (+1). */
function lineInto(id: string, name: string, door: MallDoorway, into: MallSpace, insetM: number, extendM: number): CountingLine {
  const [a, b] = [door.a, door.b];
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
  const ux = (b[0] - a[0]) / len, uy = (b[1] - a[1]) / len;
  // normal towards the inside of `into`: the one whose offset midpoint lies in the polygon's centroid direction
  const c = centroid(into.polygon);
  const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2;
  let nx = -uy, ny = ux;
  if ((c[0] - mx) * nx + (c[1] - my) * ny < 0) { nx = -nx; ny = -ny; }
  const p: Point = [a[0] - ux * extendM + nx * insetM, a[1] - uy * extendM + ny * insetM];
  const q: Point = [b[0] + ux * extendM + nx * insetM, b[1] + uy * extendM + ny * insetM];
  // segmentCrossing counts +1 from the left of a->b to its right: the inside must be on the right
  const inside: Point = [mx + nx * (insetM + 1), my + ny * (insetM + 1)];
  const side = (q[0] - p[0]) * (inside[1] - p[1]) - (q[1] - p[1]) * (inside[0] - p[0]);
  const [la, lb] = side < 0 ? [p, q] : [q, p];
  return { id, name, a: round2(la), b: round2(lb) };
}

export const centroid = (poly: readonly Point[]): Point => [
  poly.reduce((s, p) => s + p[0], 0) / poly.length, poly.reduce((s, p) => s + p[1], 0) / poly.length,
];

const round2 = (p: Point): Point => [Math.round(p[0] * 100) / 100, Math.round(p[1] * 100) / 100];

/**
 * The camera mall. Cameras are "cam-{name}" (or "{site}-cam-{name}"), DPUs "dpu-{doorway}"
 * (or "{site}-dpu-{doorway}").
 */
export function cameraMall(site = "camera-mall", opts: CameraMallOptions = {}): CameraMallPlan {
  const camId = (name: string) => {
    const id = opts.siteScopedIds ? `${site}-cam-${name}` : `cam-${name}`;
    if (id.length > 64) throw new RangeError(`device id "${id}" is longer than 64 characters; use a shorter site id`);
    return id;
  };
  const space = (id: string, name: string, kind: MallSpaceKind, polygon: Point[], capacity: number): MallSpace =>
    ({ id, name, kind, polygon, capacity });
  const shopsSouth: Array<[string, string, number, number, number]> = [
    // id, name, x0, x1, door x0 (doors are 3 m wide)
    ["shop-a", "Fashion", 2, 20, 9],
    ["shop-b", "Books", 22, 42, 29],
    ["shop-c", "Electronics", 46, 64, 53],
    ["shop-d", "Sports", 66, 86, 74],
  ];
  const shopsNorth: Array<[string, string, number, number, number]> = [
    ["shop-e", "Pharmacy", 4, 22, 11],
    ["shop-f", "Cafe", 26, 42, 32],
    ["shop-g", "Toys", 48, 68, 56],
  ];
  const spaces: MallSpace[] = [
    space("west-entrance", "West entrance hall", "entrance", rect(-10, 10, 0, 20), 150),
    space("corridor-west", "Corridor west", "corridor", rect(0, 12, 44, 18), 300),
    space("corridor-east", "Corridor east", "corridor", rect(44, 12, 88, 18), 300),
    space("east-entrance", "East entrance hall", "entrance", rect(88, 10, 98, 20), 150),
    ...shopsSouth.map(([id, name, x0, x1]) => space(id, name, "shop", rect(x0, 0, x1, 12), 120)),
    ...shopsNorth.map(([id, name, x0, x1]) => space(id, name, "shop", rect(x0, 18, x1, 30), 120)),
  ];
  const door = (id: string, name: string, exiting_to: string, entering_to: string, a: Point, b: Point): MallDoorway =>
    ({ id, name, exiting_to, entering_to, a, b });
  const corridorAt = (x: number) => (x < 44 ? "corridor-west" : "corridor-east");
  const doorways: MallDoorway[] = [
    door("west-doors", "West entrance doors", OUTSIDE, "west-entrance", [-10, 13], [-10, 17]),
    door("west-hall-corridor", "West hall to corridor", "west-entrance", "corridor-west", [0, 12], [0, 18]),
    door("corridor-mid", "Corridor west to east", "corridor-west", "corridor-east", [44, 12], [44, 18]),
    door("east-hall-corridor", "East hall to corridor", "east-entrance", "corridor-east", [88, 12], [88, 18]),
    door("east-doors", "East entrance doors", OUTSIDE, "east-entrance", [98, 13], [98, 17]),
    ...shopsSouth.map(([id, name, , , dx]) => door(`${id}-door`, `${name} door`, corridorAt(dx), id, [dx, 12], [dx + 3, 12])),
    ...shopsNorth.map(([id, name, , , dx]) => door(`${id}-door`, `${name} door`, corridorAt(dx), id, [dx, 18], [dx + 3, 18])),
  ];
  const spaceById = new Map(spaces.map((s) => [s.id, s]));
  const doorById = new Map(doorways.map((d) => [d.id, d]));

  const pose = (x: number, y: number, heightM: number, yawDeg: number, tiltDeg: number, focalPx: number, maxRangeM: number): CameraPose =>
    ({ x, y, heightM, yawRad: deg(yawDeg), tiltRad: deg(tiltDeg), focalPx, maxRangeM, ...IMAGE });
  const corridorPose = (x: number, yawDeg: number) => pose(x, 15, 4.5, yawDeg, 35, 640, 18);
  const line = (id: string, name: string, doorId: string, into: string, insetM: number, extendM = 0.5) =>
    lineInto(id, name, doorById.get(doorId)!, spaceById.get(into)!, insetM, extendM);

  const cameras: MallCamera[] = [
    {
      id: camId("west-entrance"), name: "West entrance hall", pose: pose(-9.8, 15, 4.5, 0, 42, 420, 17),
      sees: ["west-entrance", "corridor-west"],
      // across the whole hall, 4 m in from the doors: everybody entering or leaving on this side crosses it
      lines: [line("west-in", "West entrance", "west-doors", "west-entrance", 4, 3)],
    },
    { id: camId("c1"), name: "Corridor west, looking east", pose: corridorPose(1, 0), sees: ["corridor-west"], lines: [] },
    { id: camId("c2"), name: "Corridor west, looking west", pose: corridorPose(35, 180), sees: ["corridor-west"], lines: [] },
    {
      id: camId("c3"), name: "Corridor centre, looking east", pose: corridorPose(36, 0), sees: ["corridor-west", "corridor-east"],
      lines: [line("corridor-mid", "Corridor west to east", "corridor-mid", "corridor-east", 1, 0)],
    },
    { id: camId("c4"), name: "Corridor east, looking west", pose: corridorPose(70, 180), sees: ["corridor-east"], lines: [] },
    { id: camId("c5"), name: "Corridor east, looking east", pose: corridorPose(72, 0), sees: ["corridor-east", "east-entrance"], lines: [] },
    {
      id: camId("east-entrance"), name: "East entrance hall", pose: pose(97.8, 15, 4.5, 180, 42, 420, 17),
      sees: ["east-entrance", "corridor-east"],
      lines: [line("east-in", "East entrance", "east-doors", "east-entrance", 4, 3)],
    },
    // shop cameras: a back corner, 4 m up, looking diagonally across the shop (wide lens)
    ...shopsSouth.map(([id, name, x0]): MallCamera => ({
      id: camId(id), name, pose: pose(x0 + 0.2, 0.2, 4, 45, 30, 420, 23), sees: [id],
      lines: id === "shop-a" || id === "shop-c" ? [line(`${id}-in`, `${name} door`, `${id}-door`, id, 0.8)] : [],
    })),
    ...shopsNorth.map(([id, name, x0]): MallCamera => ({
      id: camId(id), name, pose: pose(x0 + 0.2, 29.8, 4, -45, 30, 420, 23), sees: [id],
      lines: id === "shop-f" ? [line(`${id}-in`, `${name} door`, `${id}-door`, id, 0.8)] : [],
    })),
  ];
  const dpus = doorways.map((d) => ({ id: dpuIdFor(d.id, opts.siteScopedIds ? site : undefined), doorway: d.id }));
  return { site, spaces, doorways, cameras, dpus };
}

/** A fresh random secret for every camera (and, with dpus, every DPU) of the plan. */
export function cameraMallSecrets(plan: CameraMallPlan, opts: { dpus?: boolean } = {}): Record<string, string> {
  const ids = [...plan.cameras.map((c) => c.id), ...(opts.dpus ? plan.dpus.map((d) => d.id) : [])];
  return Object.fromEntries(ids.map((id) => [id, randomBytes(18).toString("base64url")]));
}

export interface CameraTopologyOptions extends NeighbourOptions {
  /** also list the DPUs on the doorways (default false) */
  dpus?: boolean;
  /** image points per calibration (default 8, at least 6) */
  calibrationPoints?: number;
  /** standard deviation of the pixel noise on calibration image points (default 0.5 px) */
  calibrationNoisePx?: number;
  /** seeds the calibration noise (default 1) */
  seed?: number;
  /** pre-computed coverage (cameraCoverage(plan)); computed when absent */
  coverage?: CameraCoverage;
}

/** A standard normal deviate (Box-Muller). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * A camera's calibration as an installer would measure it: floor points spread over the camera's
 * view (farthest-point sampling over its covered floor, within 70% of its range so that the far
 * pixels, where one pixel spans decimetres, do not dominate), their pixels through the camera
 * model plus Gaussian pixel noise (rounded to 0.1 px); floor points rounded to the millimetre.
 */
export function calibrationFor(cam: MallCamera, covered: readonly Point[], rng: Rng, points = 8, noisePx = 0.5): { image_points: Point[]; floor_points: Point[] } {
  const model = new CameraModel(cam.pose);
  const near = covered.filter((p) => model.rangeOf(p) <= cam.pose.maxRangeM * 0.7);
  const pool = near.length >= points ? near : covered;
  if (pool.length < points) throw new Error(`camera ${cam.id} covers too little floor for a calibration`);
  const chosen: Point[] = [pool[Math.floor(pool.length / 2)]!];
  const dist = pool.map((p) => Math.hypot(p[0] - chosen[0]![0], p[1] - chosen[0]![1]));
  while (chosen.length < points) {
    let best = 0;
    for (let i = 1; i < pool.length; i++) if (dist[i]! > dist[best]!) best = i;
    const p = pool[best]!;
    chosen.push(p);
    for (let i = 0; i < pool.length; i++) dist[i] = Math.min(dist[i]!, Math.hypot(pool[i]![0] - p[0], pool[i]![1] - p[1]));
  }
  const r1 = (v: number) => Math.round(v * 10) / 10;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const image_points: Point[] = [];
  const floor_points: Point[] = [];
  for (const p of chosen) {
    const px = model.floorToImage(p)!;
    image_points.push([r1(px[0] + gaussian(rng) * noisePx), r1(px[1] + gaussian(rng) * noisePx)]);
    floor_points.push([r3(p[0]), r3(p[1])]);
  }
  return { image_points, floor_points };
}

/** A topology document (contracts/topology.ts TopologyDocIn) with every list present. */
export type CameraTopologyDoc = TopologyDocIn & { spaces: SpaceDef[]; doorways: DoorwayDef[]; devices: DeviceDef[] };

/**
 * The plan as a topology document (PUT /api/v1/sites/{site}/topology): spaces with polygons,
 * doorways, cameras with calibration, sees (the spaces their view really covers), neighbours
 * (computed from the geometry, see camera-coverage.ts) and lines; DPUs when asked for.
 * Secrets are copied from `secrets` (device id -> secret) where present.
 */
export function toCameraTopologyDoc(plan: CameraMallPlan, secrets: Record<string, string>, opts: CameraTopologyOptions = {}): CameraTopologyDoc {
  const coverage = opts.coverage ?? cameraCoverage(plan);
  const neighbours = cameraNeighbours(plan, coverage, opts);
  const points = Math.max(6, opts.calibrationPoints ?? 8);
  const secret = (id: string) => (secrets[id] === undefined ? {} : { secret: secrets[id] });
  const cameras: DeviceDef[] = plan.cameras.map((cam) => {
    const rng = mulberry32(deriveSeed(opts.seed ?? 1, `calibration:${cam.id}`));
    const covered = coverage.coveredPoints(cam.id);
    return {
      id: cam.id,
      kind: "camera",
      ...secret(cam.id),
      calibration: calibrationFor(cam, covered, rng, points, opts.calibrationNoisePx ?? 0.5),
      sees: coverage.seenSpaces(cam.id),
      neighbours: neighbours.get(cam.id) ?? [],
      lines: cam.lines,
    };
  });
  const dpus: DeviceDef[] = opts.dpus ? plan.dpus.map((d) => ({ id: d.id, kind: "dpu", doorway: d.doorway, ...secret(d.id) })) : [];
  return {
    spaces: plan.spaces.map((s) => ({ id: s.id, name: s.name, ...(s.capacity === undefined ? {} : { capacity: s.capacity }), polygon: s.polygon })),
    doorways: plan.doorways.map((d) => ({ id: d.id, ...(d.name === undefined ? {} : { name: d.name }), entering_to: d.entering_to, exiting_to: d.exiting_to })),
    devices: [...cameras, ...dpus],
  };
}
