import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/http/api-error.ts";
import { mergeRanges, subtractRanges } from "../../api/jobs/extraction-coverage.ts";
import { boundsOf, HeatGrid } from "../../api/tracks/heatmap.ts";
import { pathWithin } from "../../api/jobs/job-runner.ts";
import type { PathPoint } from "../../api/tracks/person-record.ts";
import { percentile, summarize } from "../../api/tracks/track-stats.ts";

const T0 = 1_700_000_000_000; // a whole second

/** A small deterministic generator (the tests never use Math.random). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe("heatmap grid", () => {
  it("a person standing still for a minute adds 61 samples (whole seconds t0..t0+60) to one cell", () => {
    const g = new HeatGrid(1);
    g.addPath([[T0, 5.5, 3.5], [T0 + 60_000, 5.5, 3.5]], T0 - 1000, T0 + 120_000);
    expect(g.result()).toEqual({ cell: 1, origin: [5, 3], width: 1, height: 1, counts: [[61]], person_s: 61, outside_s: 0 });
  });

  it("a walk at 1 m/s along a row puts one sample in each cell it passes, interpolated between points", () => {
    const g = new HeatGrid(1, { minX: 0, minY: 0, maxX: 19.9, maxY: 9.9 });
    g.addPath([[T0, 0.5, 0.5], [T0 + 4000, 4.5, 0.5], [T0 + 10_000, 10.5, 0.5]], 0, Number.MAX_SAFE_INTEGER);
    const r = g.result();
    expect(r).toMatchObject({ origin: [0, 0], width: 20, height: 10, person_s: 11, outside_s: 0 });
    expect(r.counts[0]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(r.counts.slice(1).flat().every((c) => c === 0)).toBe(true);
  });

  it("only seconds within [from, to] count; samples off the floor plan are counted apart", () => {
    const g = new HeatGrid(2, { minX: 0, minY: 0, maxX: 10, maxY: 10 });
    g.addPath([[T0, 1, 1], [T0 + 30_000, 31, 1]], T0 + 5000, T0 + 19_500);
    const r = g.result();
    // seconds T0+5 .. T0+19: x = 6 .. 20; x >= 12 is beyond the 6 columns (0..12 m)
    expect(r.person_s).toBe(15);
    expect(r.outside_s).toBe(9);
    expect(r.counts[0]).toEqual([0, 0, 0, 2, 2, 2]);
  });

  it("cell sums equal the person-seconds of random paths (counted independently)", () => {
    const rnd = lcg(7);
    const g = new HeatGrid(0.5);
    const from = T0 + 20_000, to = T0 + 200_000;
    let expected = 0;
    for (let p = 0; p < 40; p++) {
      const path: PathPoint[] = [];
      let t = T0 + Math.floor(rnd() * 100_000);
      for (let k = 0; k < 1 + Math.floor(rnd() * 10); k++) {
        path.push([t, rnd() * 50, rnd() * 30]);
        t += 1 + Math.floor(rnd() * 20_000);
      }
      g.addPath(path, from, to);
      // whole seconds in [max(first, from), min(last, to)]
      for (let s = Math.ceil(T0 / 1000); s * 1000 <= T0 + 400_000; s++) {
        const ms = s * 1000;
        if (ms >= Math.max(path[0]![0], from) && ms <= Math.min(path[path.length - 1]![0], to)) expected++;
      }
    }
    const r = g.result();
    expect(r.person_s).toBe(expected);
    expect(r.counts.flat().reduce((a, b) => a + b, 0)).toBe(expected);
    expect(r.outside_s).toBe(0);
  });

  it("bounds of polygons, and a grid too large for the cell is refused with 400", () => {
    expect(boundsOf([[[0, 0], [40, 0], [40, 10]], [[0, 10], [60, 20], [5, -3]]])).toEqual({ minX: 0, minY: -3, maxX: 60, maxY: 20 });
    expect(boundsOf([])).toBeUndefined();
    let err: unknown;
    try { new HeatGrid(0.1, { minX: 0, minY: 0, maxX: 1000, maxY: 1000 }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).reason).toMatch(/use a larger cell/);
  });
});

describe("statistics", () => {
  it("percentiles interpolate between closest ranks", () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 10);
    expect(percentile([7], 0.9)).toBe(7);
    expect(percentile([], 0.5)).toBeNull();
    const s = summarize([4, 1, 3, 2, 10]);
    expect(s).toMatchObject({ count: 5, mean: 4, median: 3, min: 1, max: 10 });
    expect(s.p90).toBeCloseTo(4 + 0.6 * 6, 10);
    expect(summarize([])).toMatchObject({ count: 0, mean: null });
  });
});

describe("ranges", () => {
  it("merge and subtract", () => {
    expect(mergeRanges([[5, 8], [0, 2], [2, 3], [7, 10], [12, 12]])).toEqual([[0, 3], [5, 10]]);
    expect(subtractRanges([[0, 10], [20, 30]], [[2, 4], [8, 22], [29, 40]])).toEqual([[0, 2], [4, 8], [22, 29]]);
    expect(subtractRanges([[0, 10]], [])).toEqual([[0, 10]]);
    expect(subtractRanges([[0, 10]], [[0, 10]])).toEqual([]);
  });

  it("a path within a tracklet span: interpolated ends plus the points between", () => {
    const path: PathPoint[] = [[0, 0, 0], [10, 10, 0], [20, 10, 10]];
    expect(pathWithin(path, 5, 15)).toEqual([[5, 5, 0], [10, 10, 0], [15, 10, 5]]);
    expect(pathWithin(path, -5, 30)).toEqual([[-5, 0, 0], [0, 0, 0], [10, 10, 0], [20, 10, 10], [30, 10, 10]]);
    expect(pathWithin([], 0, 1)).toEqual([]);
  });
});
