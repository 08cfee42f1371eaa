import { describe, expect, it } from "vitest";
import type { Point } from "../../contracts/geometry.ts";
import { applyHomography, fitHomography } from "../../topology/geometry/homography.ts";
import { cameraCoverage } from "../../firmware-sim/camera-coverage.ts";
import { calibrationFor, cameraMall } from "../../firmware-sim/camera-mall.ts";
import { CameraModel, deg, type CameraPose } from "../../firmware-sim/camera-model.ts";
import { mulberry32 } from "../../firmware-sim/random.ts";

const pose: CameraPose = { x: 0, y: 0, heightM: 4, yawRad: 0, tiltRad: deg(30), focalPx: 640, width: 1280, height: 720, maxRangeM: 20 };

describe("pinhole camera model", () => {
  const cam = new CameraModel(pose);

  it("projects a point on the optical axis to the image centre", () => {
    // the axis meets the floor at height / tan(tilt) ahead of the camera
    const ahead = 4 / Math.tan(deg(30));
    const px = cam.floorToImage([ahead, 0])!;
    expect(px[0]).toBeCloseTo(640, 6);
    expect(px[1]).toBeCloseTo(360, 6);
  });

  it("puts points to the camera's right at larger u, nearer floor points lower in the image", () => {
    // yaw 0 looks along +x: its right is -y
    const a = cam.floorToImage([8, 0])!, right = cam.floorToImage([8, -1])!, near = cam.floorToImage([5, 0])!;
    expect(right[0]).toBeGreaterThan(a[0]);
    expect(near[1]).toBeGreaterThan(a[1]);
    expect(cam.floorToImage([-3, 0])).toBeUndefined(); // behind
  });

  it("imageToFloor inverts floorToImage exactly", () => {
    for (const p of [[5, 0], [9, 2.5], [14, -4], [3.2, 1]] as Point[]) {
      const back = cam.imageToFloor(cam.floorToImage(p)!)!;
      expect(Math.hypot(back[0] - p[0], back[1] - p[1])).toBeLessThan(1e-9);
    }
    expect(cam.imageToFloor([640, 0])).toBeDefined(); // the image top is still below the horizon at 30 deg tilt with 640 px focal length
    const level = new CameraModel({ ...pose, tiltRad: 0 });
    expect(level.imageToFloor([640, 100])).toBeUndefined(); // above the horizon
  });

  it("renders a standing person as a box from head to feet about 0.45 m wide, feet at the bottom centre", () => {
    const p: Point = [8, 1];
    const r = cam.renderPerson(p, 1.8)!;
    const feet = cam.floorToImage(p)!;
    const head = cam.project([8, 1, 1.8])!;
    expect(r.box[3]).toBeCloseTo(feet[1], 6);
    expect(r.box[1]).toBeCloseTo(head[1], 6);
    expect((r.box[0] + r.box[2]) / 2).toBeCloseTo(feet[0], 6);
    // width in pixels = focal * 0.45 / depth at the nearer of head and feet
    const nearer = Math.min(cam.depthOf([8, 1, 0]), cam.depthOf([8, 1, 1.8]));
    expect(r.box[2] - r.box[0]).toBeCloseTo((640 * 0.45) / nearer, 6);
    // a person farther away renders smaller
    const far = cam.renderPerson([16, 1], 1.8)!;
    expect(far.box[3] - far.box[1]).toBeLessThan(r.box[3] - r.box[1]);
    expect(far.depth).toBeGreaterThan(r.depth);
  });

  it("sees a person only within range, in front and with the feet inside the image", () => {
    expect(cam.seesFloorPoint([8, 0])).toBe(true);
    expect(cam.seesFloorPoint([25, 0])).toBe(false); // beyond maxRangeM
    expect(cam.seesFloorPoint([1, 0])).toBe(false); // below the image bottom
    expect(cam.seesFloorPoint([8, 30])).toBe(false); // far to the side
    expect(cam.renderPerson([25, 0], 1.7)).toBeUndefined();
  });

  it("clips the box of a person close to the camera whose head leaves the image", () => {
    // steep camera: the image top is 30.6 deg below the horizontal, a head 2.1 m below the lens at 6 m only 19 deg
    const steep = new CameraModel({ ...pose, tiltRad: deg(60) });
    const r = steep.renderPerson([6, 0], 1.9)!;
    expect(r).toBeDefined();
    expect(r.box[1]).toBe(0);
    expect(r.box[3]).toBeLessThanOrEqual(720);
  });
});

describe("calibration round trip: floor -> image -> fitted homography -> floor", () => {
  const plan = cameraMall();
  const coverage = cameraCoverage(plan);

  it("recovers floor points within a few cm for every camera of the mall (0.5 px calibration noise)", () => {
    for (const cam of plan.cameras) {
      const covered = coverage.coveredPoints(cam.id);
      const cal = calibrationFor(cam, covered, mulberry32(11), 8, 0.5);
      const H = fitHomography(cal.image_points, cal.floor_points);
      const model = new CameraModel(cam.pose);
      const errors: number[] = [];
      for (let i = 0; i < covered.length; i += 37) {
        const p = covered[i]!;
        if (model.rangeOf(p) > 12) continue; // where people are placed precisely enough to matter
        const back = applyHomography(H, model.floorToImage(p)!)!;
        errors.push(Math.hypot(back[0] - p[0], back[1] - p[1]));
      }
      errors.sort((a, b) => a - b);
      expect(errors.length, cam.id).toBeGreaterThan(10);
      expect(errors[Math.floor(errors.length / 2)]!, `${cam.id} median`).toBeLessThan(0.03);
      expect(errors[errors.length - 1]!, `${cam.id} max`).toBeLessThan(0.1);
    }
  });

  it("is exact without noise", () => {
    const cam = plan.cameras[1]!;
    const cal = calibrationFor(cam, coverage.coveredPoints(cam.id), mulberry32(1), 6, 0);
    const H = fitHomography(cal.image_points, cal.floor_points);
    const model = new CameraModel(cam.pose);
    const p: Point = [10.3, 14.2];
    const back = applyHomography(H, model.floorToImage(p)!)!;
    // image points are rounded to 0.1 px and floor points to 1 mm
    expect(Math.hypot(back[0] - p[0], back[1] - p[1])).toBeLessThan(0.01);
  });
});
