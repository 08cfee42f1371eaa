import { describe, expect, it } from "vitest";
import { applyHomography, DegenerateCalibration, fitHomography, invertHomography, reprojectionError } from "../../../topology/geometry/homography.ts";
import type { Point } from "../../../contracts/geometry.ts";

/** A known homography (a tilted camera over a floor) to generate exact correspondences. */
const TRUE = { h: [0.02, 0.001, -3, 0.0005, 0.05, -2, 0.00001, 0.002, 1] };

describe("homography", () => {
  it("recovers a known homography from 4 and from 8 exact pairs", () => {
    const image: Point[] = [[100, 400], [600, 420], [550, 700], [80, 690], [300, 500], [400, 600], [200, 650], [500, 450]];
    const floor = image.map((p) => applyHomography(TRUE, p)!);
    for (const n of [4, 8]) {
      const H = fitHomography(image.slice(0, n), floor.slice(0, n));
      expect(reprojectionError(H, image.slice(0, n), floor.slice(0, n))).toBeLessThan(1e-6);
      const probe = applyHomography(H, [333, 555])!;
      const truth = applyHomography(TRUE, [333, 555])!;
      expect(Math.hypot(probe[0] - truth[0], probe[1] - truth[1])).toBeLessThan(1e-6);
      const back = applyHomography(invertHomography(H), truth)!;
      expect(Math.hypot(back[0] - 333, back[1] - 555)).toBeLessThan(1e-4);
    }
  });

  it("fits noisy pairs in the least-squares sense", () => {
    const image: Point[] = [];
    for (let u = 50; u <= 650; u += 150) for (let v = 380; v <= 700; v += 80) image.push([u, v]);
    const floor = image.map((p, i) => { const q = applyHomography(TRUE, p)!; return [q[0] + ((i % 3) - 1) * 0.01, q[1] + ((i % 2) - 0.5) * 0.02] as Point; });
    const H = fitHomography(image, floor);
    expect(reprojectionError(H, image, floor)).toBeLessThan(0.02);
  });

  it("refuses degenerate calibrations with a reason", () => {
    const line: Point[] = [[0, 0], [1, 1], [2, 2], [3, 3]];
    const square: Point[] = [[0, 0], [1, 0], [1, 1], [0, 1]];
    expect(() => fitHomography(line, square)).toThrow(DegenerateCalibration);
    expect(() => fitHomography(line, square)).toThrow(/collinear/);
    expect(() => fitHomography(square, line)).toThrow(/floor points are \(nearly\) collinear/);
    expect(() => fitHomography(square.slice(0, 3), square.slice(0, 3))).toThrow(/at least 4/);
    expect(() => fitHomography(square, square.slice(0, 3) as Point[])).toThrow(/4 image points but 3 floor points/);
  });
});
