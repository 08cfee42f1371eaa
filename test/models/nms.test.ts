/** NMS unit tests: IoU, suppression within a class, none across classes, threshold, max detections. */
import { describe, expect, it } from "vitest";
import { iou, nms, type Detection } from "../../models/nms.ts";

const det = (x1: number, y1: number, x2: number, y2: number, score: number, cls = 0): Detection => ({ box: [x1, y1, x2, y2], score, cls });

describe("nms", () => {
  it("iou", () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 10);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
  });

  it("keeps the best of overlapping boxes of one class", () => {
    const kept = nms([det(1, 0, 11, 10, 0.6), det(0, 0, 10, 10, 0.9), det(50, 50, 60, 60, 0.5)], { iouThreshold: 0.5, maxDetections: 10 });
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.5]);
  });

  it("does not suppress across classes", () => {
    const kept = nms([det(0, 0, 10, 10, 0.9, 0), det(0, 0, 10, 10, 0.8, 1)], { iouThreshold: 0.5, maxDetections: 10 });
    expect(kept.map((d) => d.cls)).toEqual([0, 1]);
  });

  it("respects the IoU threshold", () => {
    const boxes = [det(0, 0, 10, 10, 0.9), det(5, 0, 15, 10, 0.8)]; // IoU 1/3
    expect(nms(boxes, { iouThreshold: 0.3, maxDetections: 10 })).toHaveLength(1);
    expect(nms(boxes, { iouThreshold: 0.4, maxDetections: 10 })).toHaveLength(2);
  });

  it("keeps at most maxDetections, highest scores first", () => {
    const boxes = Array.from({ length: 20 }, (_, k) => det(k * 20, 0, k * 20 + 10, 10, k / 20));
    const kept = nms(boxes, { iouThreshold: 0.5, maxDetections: 5 });
    expect(kept.map((d) => d.score)).toEqual([19, 18, 17, 16, 15].map((k) => k / 20));
  });

  it("a suppressed box does not suppress others", () => {
    // B overlaps A (suppressed); C overlaps B but not A: C stays
    const kept = nms([det(0, 0, 10, 10, 0.9), det(4, 0, 14, 10, 0.8), det(9, 0, 19, 10, 0.7)], { iouThreshold: 0.3, maxDetections: 10 });
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.7]);
  });
});
