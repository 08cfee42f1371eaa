import type { Point } from "../../contracts/geometry.ts";
import { OUTSIDE } from "../../contracts/ids.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import { WALL_PLAN_VERSION, type WallCamera, type WallPlan } from "../../contracts/wall.ts";
import { applyHomography } from "../../topology/geometry/homography.ts";
import { siteGeometry } from "../../topology/site-geometry.ts";

/** Convex hull (Andrew's monotone chain), counter-clockwise, without repeated points. */
export function convexHull(points: readonly Point[]): Point[] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

const round = (v: number) => Math.round(v * 100) / 100;

/**
 * What the wall needs of a topology (never a secret, never a calibration): spaces with their
 * outline, capacity and which counts they have (DPU on a doorway, cameras seeing them), and the
 * cameras placed on the floor: the floor point at the bottom centre of the calibrated image area
 * (the nearest floor the camera sees), the direction it looks in, and the floor it was calibrated on.
 */
export function wallPlanOf(t: StoredTopology): WallPlan {
  const geometry = siteGeometry(t);
  const dpuDoorways = new Set(t.devices.filter((d) => d.kind === "dpu" && d.doorway).map((d) => d.doorway!));
  const dpuSpaces = new Set<string>();
  for (const d of t.doorways) {
    if (!dpuDoorways.has(d.id)) continue;
    for (const s of [d.entering_to, d.exiting_to]) if (s !== OUTSIDE) dpuSpaces.add(s);
  }
  const cameraDefs = t.devices.filter((d) => d.kind === "camera");
  const seenBy = new Map<string, string[]>();
  for (const c of cameraDefs) for (const s of c.sees ?? []) seenBy.set(s, [...(seenBy.get(s) ?? []), c.id]);

  const cameras: WallCamera[] = cameraDefs.map((c) => {
    const view = geometry.cameras.get(c.id);
    const cal = c.calibration;
    let at: Point | null = null, heading: Point | null = null;
    if (view && cal) {
      const us = cal.image_points.map((p) => p[0]), vs = cal.image_points.map((p) => p[1]);
      const uc = (Math.min(...us) + Math.max(...us)) / 2;
      const near = applyHomography(view.toFloor, [uc, Math.max(...vs)]);
      const mid = applyHomography(view.toFloor, [uc, (Math.min(...vs) + Math.max(...vs)) / 2]);
      if (near) {
        at = [round(near[0]), round(near[1])];
        const len = mid ? Math.hypot(mid[0] - near[0], mid[1] - near[1]) : 0;
        if (mid && len > 1e-6) heading = [round((mid[0] - near[0]) / len), round((mid[1] - near[1]) / len)];
      }
    }
    const hull = cal ? convexHull(cal.floor_points as Point[]) : [];
    return { id: c.id, sees: c.sees ?? [], at, heading, view: hull.length >= 3 ? hull : null };
  });

  return {
    v: WALL_PLAN_VERSION,
    site: t.site,
    spaces: t.spaces.map((s) => ({
      id: s.id,
      name: s.name,
      capacity: s.capacity ?? null,
      polygon: (s.polygon as Point[] | undefined) ?? null,
      dpu: dpuSpaces.has(s.id),
      cameras: seenBy.get(s.id) ?? [],
    })),
    cameras,
    dpus: t.devices.filter((d) => d.kind === "dpu").length,
    updatedAt: t.updatedAt,
  };
}
