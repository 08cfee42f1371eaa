import { describe, expect, it } from "vitest";
import type { Point } from "../../contracts/geometry.ts";
import { OUTSIDE, TOKEN_RE } from "../../contracts/ids.ts";
import { TopologyDoc } from "../../contracts/topology.ts";
import { fitHomography, reprojectionError } from "../../topology/geometry/homography.ts";
import { isSimplePolygon, pointInPolygon, polygonArea } from "../../topology/geometry/polygon.ts";
import { siteGeometry } from "../../topology/site-geometry.ts";
import { validateTopology } from "../../topology/validate.ts";
import { cameraCoverage } from "../../firmware-sim/camera-coverage.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import { CameraModel } from "../../firmware-sim/camera-model.ts";

const plan = cameraMall();
const coverage = cameraCoverage(plan);
const secrets = cameraMallSecrets(plan);
const doc = TopologyDoc.parse(toCameraTopologyDoc(plan, secrets, { coverage }));
const cam = (name: string) => doc.devices.find((d) => d.id === `cam-${name}`)!;

/** Convex: every turn of the outline goes the same way. */
function isConvex(poly: readonly Point[]): boolean {
  let sign = 0;
  for (let i = 0; i < poly.length; i++) {
    const [a, b, c] = [poly[i]!, poly[(i + 1) % poly.length]!, poly[(i + 2) % poly.length]!];
    const z = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (z !== 0) { if (sign !== 0 && Math.sign(z) !== sign) return false; sign = Math.sign(z); }
  }
  return true;
}

/** Distance from p to the segment a-b. */
function segDist(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}
const onBoundary = (p: Point, poly: readonly Point[]) => poly.some((a, i) => segDist(p, a, poly[(i + 1) % poly.length]!) < 1e-9);

describe("camera mall plan", () => {
  it("has entrances, two corridors, at least 6 shops and at least 10 cameras with valid ids", () => {
    expect(plan.spaces.filter((s) => s.kind === "shop").length).toBeGreaterThanOrEqual(6);
    expect(plan.spaces.filter((s) => s.kind === "corridor").length).toBe(2);
    expect(plan.spaces.filter((s) => s.kind === "entrance").length).toBe(2);
    expect(plan.cameras.length).toBeGreaterThanOrEqual(10);
    for (const id of [...plan.spaces.map((s) => s.id), ...plan.doorways.map((d) => d.id), ...plan.cameras.map((c) => c.id)]) expect(id).toMatch(TOKEN_RE);
    expect(cameraMall("mall-z", { siteScopedIds: true }).cameras[0]!.id).toBe("mall-z-cam-west-entrance");
    expect(cameraMall("mall-z", { siteScopedIds: true }).dpus[0]!.id).toBe("mall-z-dpu-west-doors");
  });

  it("has simple, convex, non-overlapping space outlines", () => {
    for (const s of plan.spaces) {
      expect(isSimplePolygon(s.polygon), s.id).toBe(true);
      expect(isConvex(s.polygon), s.id).toBe(true);
      expect(Math.abs(polygonArea(s.polygon)), s.id).toBeGreaterThan(50);
    }
    for (const a of plan.spaces) for (const b of plan.spaces) {
      if (a === b) continue;
      // no vertex of one strictly inside another
      for (const p of a.polygon) if (!onBoundary(p, b.polygon)) expect(pointInPolygon(p, b.polygon), `${a.id} in ${b.id}`).toBe(false);
    }
  });

  it("puts every doorway's floor segment on the boundary of both of its spaces, shop doors on the corridor", () => {
    const space = new Map(plan.spaces.map((s) => [s.id, s]));
    for (const d of plan.doorways) {
      for (const sid of [d.entering_to, d.exiting_to]) {
        if (sid === OUTSIDE) continue;
        const poly = space.get(sid)!.polygon;
        expect(onBoundary(d.a, poly) && onBoundary(d.b, poly), `${d.id} on ${sid}`).toBe(true);
      }
      if (space.get(d.entering_to)?.kind === "shop") expect(space.get(d.exiting_to)!.kind).toBe("corridor");
    }
    expect(plan.doorways.filter((d) => d.exiting_to === OUTSIDE).length).toBe(2);
  });
});

describe("camera coverage", () => {
  it("sees almost all walking area: >= 90% overall, >= 95% of every shop", () => {
    expect(coverage.coveredShare()).toBeGreaterThanOrEqual(0.9);
    for (const s of plan.spaces.filter((x) => x.kind === "shop")) expect(coverage.coveredShare(s.id), s.id).toBeGreaterThanOrEqual(0.95);
  });

  it("leaves a few short blind stretches along the corridor, and has overlapping views", () => {
    // walk the corridor's centre line in 0.25 m steps and measure stretches no camera sees
    const blind: number[] = [];
    let run = 0, overlapped = 0;
    for (let x = 0.125; x < 88; x += 0.25) {
      const n = coverage.camerasAt([x, 15]).length;
      if (n === 0) run += 0.25;
      else { if (run > 0) blind.push(run); run = 0; }
      if (n >= 2) overlapped += 0.25;
    }
    expect(blind.length).toBeGreaterThanOrEqual(2);
    for (const b of blind) { expect(b).toBeGreaterThanOrEqual(2); expect(b).toBeLessThanOrEqual(8); }
    expect(overlapped).toBeGreaterThan(4);
  });

  it("shop cameras see only their shop", () => {
    for (const c of plan.cameras.filter((x) => x.id.startsWith("cam-shop-"))) {
      expect(coverage.seenSpaces(c.id)).toEqual([c.id.slice("cam-".length)]);
    }
  });
});

describe("camera topology document", () => {
  it("passes the topology schema and the topology rules", () => {
    expect(validateTopology(plan.site, doc, () => undefined)).toEqual({ ok: true });
    expect(doc.spaces.every((s) => s.polygon && s.polygon.length >= 4)).toBe(true);
    const cams = doc.devices.filter((d) => d.kind === "camera");
    expect(cams.length).toBe(plan.cameras.length);
    expect(cams.every((c) => c.secret === secrets[c.id])).toBe(true);
    expect(doc.devices.some((d) => d.kind === "dpu")).toBe(false);
  });

  it("includes one DPU per doorway when asked, still valid", () => {
    const s2 = cameraMallSecrets(plan, { dpus: true });
    const withDpus = TopologyDoc.parse(toCameraTopologyDoc(plan, s2, { coverage, dpus: true }));
    const dpus = withDpus.devices.filter((d) => d.kind === "dpu");
    expect(dpus.map((d) => d.doorway)).toEqual(plan.doorways.map((d) => d.id));
    expect(dpus.every((d) => d.secret === s2[d.id])).toBe(true);
    expect(validateTopology(plan.site, withDpus, () => undefined)).toEqual({ ok: true });
  });

  it("gives every camera a calibration of >= 6 pairs that fits, maps its pixels back to the floor and matches the camera", () => {
    for (const d of doc.devices.filter((x) => x.kind === "camera")) {
      const { image_points, floor_points } = d.calibration!;
      expect(image_points.length).toBeGreaterThanOrEqual(6);
      const H = fitHomography(image_points, floor_points);
      expect(reprojectionError(H, image_points, floor_points), d.id).toBeLessThan(0.1);
      // the image points are the floor points seen through the camera, within the pixel noise
      const model = new CameraModel(plan.cameras.find((c) => c.id === d.id)!.pose);
      floor_points.forEach((f, i) => {
        const px = model.floorToImage(f)!;
        expect(Math.hypot(px[0] - image_points[i]![0], px[1] - image_points[i]![1]), d.id).toBeLessThan(3);
      });
    }
    // the topology's own geometry builder accepts every camera
    const g = siteGeometry({ site: plan.site, spaces: doc.spaces, devices: doc.devices });
    expect(g.cameras.size).toBe(plan.cameras.length);
  });

  it("has symmetric neighbours: overlapping views 0..small, a corridor gap a walking-time window from its length", () => {
    for (const d of doc.devices.filter((x) => x.kind === "camera")) {
      for (const n of d.neighbours!) {
        const back = doc.devices.find((x) => x.id === n.camera)!.neighbours!.find((m) => m.camera === d.id);
        expect(back, `${n.camera} -> ${d.id}`).toEqual({ camera: d.id, min_s: n.min_s, max_s: n.max_s });
        expect(n.min_s).toBeLessThanOrEqual(n.max_s);
      }
    }
    const nb = (a: string, b: string) => cam(a).neighbours!.find((n) => n.camera === `cam-${b}`);
    // overlapping corridor views
    expect(nb("c1", "c2")).toMatchObject({ min_s: 0 });
    expect(nb("c1", "c2")!.max_s).toBeLessThanOrEqual(3);
    expect(nb("c3", "c4")).toMatchObject({ min_s: 0 });
    expect(nb("west-entrance", "c1")).toMatchObject({ min_s: 0 });
    // the blind stretch between c2 (looking west from x=35) and c3 (looking east from x=36)
    let first = -1, last = -1;
    for (let x = 30.125; x < 42; x += 0.25) if (coverage.camerasAt([x, 15]).length === 0) { if (first < 0) first = x; last = x; }
    const gap = last - first + 0.25;
    const w = nb("c2", "c3")!;
    expect(w.min_s).toBeGreaterThan(0);
    expect(w.min_s).toBeCloseTo(gap / 2 - 2, 0);
    expect(w.max_s).toBeCloseTo(gap / 0.6 + 2, 0);
    // views only joined through a third view are not neighbours
    expect(nb("c1", "c3")).toBeUndefined();
    expect(nb("west-entrance", "east-entrance")).toBeUndefined();
    expect(nb("shop-a", "shop-b")).toBeUndefined();
    // every shop camera has the corridor camera at its door as a neighbour
    for (const s of ["shop-a", "shop-b", "shop-c", "shop-d", "shop-e", "shop-f", "shop-g"]) {
      expect(cam(s).neighbours!.length, s).toBeGreaterThan(0);
    }
  });

  it("has counting lines at both entrances and a few shop doors, each inside a space and in its camera's view", () => {
    const lines = doc.devices.flatMap((d) => (d.lines ?? []).map((l) => ({ ...l, camera: d.id })));
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const g = siteGeometry({ site: plan.site, spaces: doc.spaces, devices: doc.devices });
    const spaceOf = new Map(g.lines.map((l) => [l.id, l.space]));
    expect(spaceOf.get("west-in")).toBe("west-entrance");
    expect(spaceOf.get("east-in")).toBe("east-entrance");
    expect(spaceOf.get("shop-a-in")).toBe("shop-a");
    for (const l of lines) {
      const model = new CameraModel(plan.cameras.find((c) => c.id === l.camera)!.pose);
      const mid: Point = [(l.a[0] + l.b[0]) / 2, (l.a[1] + l.b[1]) / 2];
      expect(model.seesFloorPoint(mid), l.id).toBe(true);
      expect(coverage.camerasAt(mid), l.id).toContain(l.camera);
    }
  });
});
