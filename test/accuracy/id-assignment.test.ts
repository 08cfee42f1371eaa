import { describe, expect, it } from "vitest";
import { maxOverlapAssignment, solveMinCostAssignment } from "./id-assignment.ts";

/** mulberry32: a seeded generator so the random cases are the same on every run */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** the cheapest assignment of every row to distinct columns, by trying them all */
function bruteForce(cost: Float64Array, rows: number, cols: number): number {
  let best = Infinity;
  const used = new Array<boolean>(cols).fill(false);
  const walk = (r: number, sum: number) => {
    if (r === rows) return void (best = Math.min(best, sum));
    for (let c = 0; c < cols; c++) {
      if (used[c]) continue;
      used[c] = true;
      walk(r + 1, sum + cost[r * cols + c]!);
      used[c] = false;
    }
  };
  walk(0, 0);
  return best;
}

describe("id assignment", () => {
  it("the Hungarian method finds the optimum of random matrices (checked by exhaustive search)", () => {
    const next = rng(42);
    for (let k = 0; k < 300; k++) {
      const rows = 1 + Math.floor(next() * 5);
      const cols = rows + Math.floor(next() * 3);
      const cost = Float64Array.from({ length: rows * cols }, () => Math.floor(next() * 20) - 10);
      const a = solveMinCostAssignment(cost, rows, cols);
      expect(new Set(a).size).toBe(rows);
      const total = Array.from(a).reduce((s, c, r) => s + cost[r * cols + c]!, 0);
      expect(total).toBe(bruteForce(cost, rows, cols));
    }
  });

  it("beats the greedy choice on the id-overlap table", () => {
    // greedy takes a-1 (5) and is left with b-2 (0): 5; the optimum a-2 + b-1 shares 8 frames
    const overlap = new Map([
      ["a", new Map([["1", 5], ["2", 4]])],
      ["b", new Map([["1", 4]])],
    ]);
    expect(maxOverlapAssignment(overlap)).toEqual([["a", "2", 4], ["b", "1", 4]]);
  });

  it("solves separate components and more persons than tracks", () => {
    // component {a, b, c} x {1}: only the best of them; component {d} x {2, 3}: its best
    const overlap = new Map([
      ["a", new Map([["1", 2]])],
      ["b", new Map([["1", 7]])],
      ["c", new Map([["1", 3]])],
      ["d", new Map([["2", 1], ["3", 6]])],
      ["e", new Map([["4", 0]])],
    ]);
    expect(maxOverlapAssignment(overlap)).toEqual([["b", "1", 7], ["d", "3", 6]]);
    // 3 persons x 2 tracks in one component (solved transposed): b-1 + c-2 = 9 beats a-1 + c-2 = 8 and a-1 + b-2 = 4
    const wide = new Map([
      ["a", new Map([["1", 3]])],
      ["b", new Map([["1", 4], ["2", 1]])],
      ["c", new Map([["2", 5]])],
    ]);
    expect(maxOverlapAssignment(wide)).toEqual([["b", "1", 4], ["c", "2", 5]]);
  });
});
