import { describe, expect, it } from "vitest";
import { isSimplePolygon, pointInPolygon, polygonArea, segmentCrossing } from "../../../topology/geometry/polygon.ts";
import type { Point } from "../../../contracts/geometry.ts";

const L: Point[] = [[0, 0], [10, 0], [10, 4], [4, 4], [4, 10], [0, 10]];

describe("polygon", () => {
  it("tells inside from outside of a concave outline", () => {
    expect(pointInPolygon([2, 2], L)).toBe(true);
    expect(pointInPolygon([2, 8], L)).toBe(true);
    expect(pointInPolygon([8, 8], L)).toBe(false);
    expect(pointInPolygon([-1, 2], L)).toBe(false);
    expect(polygonArea(L)).toBeCloseTo(64);
  });
  it("finds self-intersecting outlines", () => {
    expect(isSimplePolygon(L)).toBe(true);
    expect(isSimplePolygon([[0, 0], [4, 4], [4, 0], [0, 4]])).toBe(false);
  });
  it("counts line crossings with direction", () => {
    const a: Point = [0, 0], b: Point = [0, 10]; // left of a->b is x < 0
    expect(segmentCrossing([-1, 5], [1, 5], a, b)).toBe(1);
    expect(segmentCrossing([1, 5], [-1, 5], a, b)).toBe(-1);
    expect(segmentCrossing([1, 5], [2, 5], a, b)).toBe(0);
    expect(segmentCrossing([-1, 12], [1, 12], a, b)).toBe(0);
  });
});
