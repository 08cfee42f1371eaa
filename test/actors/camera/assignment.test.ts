import { describe, expect, it } from "vitest";
import { assignFlat, solveAssignment } from "../../../actors/camera/assignment.ts";
import { mulberry32 } from "../../../firmware-sim/random.ts";

/** The objective the solver promises to minimise: sum of (cost - gate) over chosen pairs. */
const objective = (cost: number[][], pairs: Array<[number, number]>, gate: number) =>
  pairs.reduce((s, [r, c]) => s + cost[r]![c]! - gate, 0);

/** Best objective over every partial matching that respects the gate (exhaustive search). */
function bruteForce(cost: number[][], gate: number): number {
  const rows = cost.length, cols = cost[0]?.length ?? 0;
  const usedCols = new Array<boolean>(cols).fill(false);
  let best = 0;
  const visit = (r: number, acc: number) => {
    if (r === rows) { best = Math.min(best, acc); return; }
    visit(r + 1, acc); // row r unmatched
    for (let c = 0; c < cols; c++) {
      if (usedCols[c] || !(cost[r]![c]! <= gate)) continue;
      usedCols[c] = true;
      visit(r + 1, acc + cost[r]![c]! - gate);
      usedCols[c] = false;
    }
  };
  visit(0, 0);
  return best;
}

function expectValid(cost: number[][], pairs: Array<[number, number]>, gate: number): void {
  const rows = new Set<number>(), cols = new Set<number>();
  for (const [r, c] of pairs) {
    expect(rows.has(r)).toBe(false);
    expect(cols.has(c)).toBe(false);
    rows.add(r);
    cols.add(c);
    expect(cost[r]![c]!).toBeLessThanOrEqual(gate);
  }
}

describe("gated assignment (Hungarian)", () => {
  it("is optimal against brute force on random square and rectangular matrices", () => {
    const rnd = mulberry32(20260423);
    let checked = 0;
    for (let trial = 0; trial < 600; trial++) {
      const rows = 1 + Math.floor(rnd() * 6);
      const cols = 1 + Math.floor(rnd() * 6);
      const gate = 0.3 + rnd() * 0.7;
      const cost = Array.from({ length: rows }, () => Array.from({ length: cols }, () => {
        const x = rnd();
        // some integer-valued matrices to provoke ties
        return trial % 3 === 0 ? Math.round(x * 4) / 4 : x;
      }));
      const pairs = solveAssignment(cost, gate);
      expectValid(cost, pairs, gate);
      expect(objective(cost, pairs, gate)).toBeCloseTo(bruteForce(cost, gate), 9);
      checked++;
    }
    expect(checked).toBe(600);
  });

  it("finds the classic optimum where greedy fails", () => {
    // greedy takes (0,0)=1 then must take (1,1)=9; the optimum is (0,1)+(1,0) = 2+2
    const cost = [[1, 2], [2, 9]];
    expect(solveAssignment(cost, 100)).toEqual([[0, 1], [1, 0]]);
  });

  it("handles more rows than columns and more columns than rows", () => {
    const tall = [[5, 1], [1, 5], [0.5, 0.6], [9, 9]];
    const pairsTall = solveAssignment(tall, 10);
    expect(pairsTall.length).toBe(2);
    expect(objective(tall, pairsTall, 10)).toBeCloseTo(bruteForce(tall, 10), 12);
    const wide = [[3, 1, 4, 1.5], [2, 7, 1, 8]];
    expect(solveAssignment(wide, 10)).toEqual([[0, 1], [1, 2]]);
  });

  it("never assigns a pair above the gate, and leaves rows with nothing under it unmatched", () => {
    const cost = [[0.9, 0.95], [0.1, 0.99], [0.85, 0.2]];
    const pairs = solveAssignment(cost, 0.5);
    expect(pairs).toEqual([[1, 0], [2, 1]]);
    expect(solveAssignment([[0.7, 0.8]], 0.5)).toEqual([]);
    // a cheap pair is not given up to make room for two expensive ones beyond their worth
    // (0,0)+(1,1) = 0.1+0.45 vs (0,1)+(1,0) = 0.45+0.45: the first wins; with gate 0.5 both are admissible
    expect(solveAssignment([[0.1, 0.45], [0.45, 0.45]], 0.5)).toEqual([[0, 0], [1, 1]]);
    // NaN entries are gated
    expect(solveAssignment([[Number.NaN, 0.2]], 0.5)).toEqual([[0, 1]]);
  });

  it("handles empty inputs and reports row-to-column on the flat form", () => {
    expect(solveAssignment([], 1)).toEqual([]);
    expect(solveAssignment([[], []], 1)).toEqual([]);
    const r = assignFlat(new Float64Array([0.2, 0.9, 0.9, 0.9, 0.1, 0.9]), 2, 3, 0.5);
    expect(Array.from(r)).toEqual([0, 1]);
    expect(() => solveAssignment([[1, 2], [3]], 1)).toThrow(/row 1/);
  });

  it("solves a 60 x 60 tracking-like matrix to the same optimum as a 120 x 120 padded formulation would", () => {
    // diagonal-dominant costs (tracks near their detections) with noise; compare with the lapjv-style
    // extension: a square (n+m) matrix with gate/2 for leaving a row or a column unmatched
    const rnd = mulberry32(7);
    const n = 60;
    const cost = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => (r === c ? rnd() * 0.4 : 0.3 + rnd())));
    const gate = 0.8;
    const pairs = solveAssignment(cost, gate);
    expectValid(cost, pairs, gate);
    const big = 1e6;
    const ext = Array.from({ length: 2 * n }, (_, r) => Array.from({ length: 2 * n }, (_, c) => {
      if (r < n && c < n) return cost[r]![c]! <= gate ? cost[r]![c]! : big;
      if (r < n) return c - n === r ? gate / 2 : big;
      if (c < n) return r - n === c ? gate / 2 : big;
      return 0;
    }));
    const full = solveAssignment(ext, 2 * big);
    const extTotal = full.reduce((s, [r, c]) => s + ext[r]![c]!, 0);
    expect(objective(cost, pairs, gate) + n * gate).toBeCloseTo(extTotal, 6);
  });
});
