/**
 * Optimal assignment with a gate (the Hungarian / Kuhn-Munkres method, shortest augmenting path
 * form with potentials, O(n² m) for n <= m).
 *
 * What it solves: given an n x m cost matrix and a gate `maxCost`, choose a set of (row, column)
 * pairs, each row and column at most once, only pairs with cost <= maxCost, that minimises
 *
 *     sum over chosen pairs of (cost - maxCost)
 *
 * i.e. a pair is worth taking only if it is cheaper than leaving its row and its column unmatched
 * (the semantics of lapjv's `cost_limit`, which ByteTrack uses). Among matchings of equal size
 * this is the cheapest one. Pairs above the gate are never assigned; NaN entries count as gated.
 *
 * How: entries become min(cost - maxCost, 0) and a full assignment of the smaller side is solved
 * (any partial matching extends to a full one at no extra cost, so the optima coincide); pairs
 * that land on a gated entry are dropped. Rows and columns without any entry under the gate are
 * left out of the solve, which keeps sparse (well-gated) tracking matrices small.
 */

/** Scratch buffers reused between calls (single-threaded: one solve at a time). */
let scratchSize = 0;
let u = new Float64Array(0);
let v = new Float64Array(0);
let minv = new Float64Array(0);
let p = new Int32Array(0);
let way = new Int32Array(0);
let used = new Uint8Array(0);

function ensureScratch(size: number): void {
  if (size <= scratchSize) return;
  scratchSize = Math.max(size, scratchSize * 2, 64);
  u = new Float64Array(scratchSize);
  v = new Float64Array(scratchSize);
  minv = new Float64Array(scratchSize);
  p = new Int32Array(scratchSize);
  way = new Int32Array(scratchSize);
  used = new Uint8Array(scratchSize);
}

/**
 * Solves the gated assignment on a row-major flat matrix (rows x cols).
 * Returns rowToCol: the column assigned to each row, -1 for none.
 */
export function assignFlat(cost: ArrayLike<number>, rows: number, cols: number, maxCost: number): Int32Array {
  if (!Number.isFinite(maxCost)) throw new Error("maxCost must be a finite number");
  const rowToCol = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return rowToCol;

  // rows and columns with at least one entry under the gate
  const liveRows: number[] = [];
  const colLive = new Uint8Array(cols);
  for (let r = 0; r < rows; r++) {
    let any = false;
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      if (cost[base + c]! <= maxCost) { any = true; colLive[c] = 1; }
    }
    if (any) liveRows.push(r);
  }
  if (liveRows.length === 0) return rowToCol;
  const liveCols: number[] = [];
  for (let c = 0; c < cols; c++) if (colLive[c]) liveCols.push(c);

  // the smaller side becomes the "rows" of the solve
  const transpose = liveRows.length > liveCols.length;
  const R = transpose ? liveCols : liveRows;
  const C = transpose ? liveRows : liveCols;
  const n = R.length, m = C.length;
  const a = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const x = transpose ? cost[C[j]! * cols + R[i]!]! : cost[R[i]! * cols + C[j]!]!;
      a[i * m + j] = x <= maxCost ? x - maxCost : 0;
    }
  }

  solveFull(a, n, m);

  // p[j] (1-based column j) = 1-based row assigned to it
  for (let j = 1; j <= m; j++) {
    const i = p[j]!;
    if (i === 0) continue;
    const r = transpose ? C[j - 1]! : R[i - 1]!;
    const c = transpose ? R[i - 1]! : C[j - 1]!;
    if (cost[r * cols + c]! <= maxCost) rowToCol[r] = c;
  }
  return rowToCol;
}

/** Full min-cost assignment of n rows into m >= n columns; result in p[1..m] (1-based rows, 0 = free). */
function solveFull(a: Float64Array, n: number, m: number): void {
  ensureScratch(m + 1);
  u.fill(0, 0, n + 1);
  v.fill(0, 0, m + 1);
  p.fill(0, 0, m + 1);
  way.fill(0, 0, m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Number.POSITIVE_INFINITY, 0, m + 1);
    used.fill(0, 0, m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      const row = (i0 - 1) * m;
      const ui0 = u[i0]!;
      let delta = Number.POSITIVE_INFINITY;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a[row + j - 1]! - ui0 - v[j]!;
        if (cur < minv[j]!) { minv[j] = cur; way[j] = j0; }
        if (minv[j]! < delta) { delta = minv[j]!; j1 = j; }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) { u[p[j]!] = u[p[j]!]! + delta; v[j] = v[j]! - delta; } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
}

/**
 * Gated minimum-cost assignment on a rectangular matrix (rows may be more or fewer than columns).
 * Returns the chosen [row, col] pairs in row order; every pair has cost <= maxCost.
 */
export function solveAssignment(cost: readonly (readonly number[])[], maxCost: number): Array<[number, number]> {
  const rows = cost.length;
  const cols = rows === 0 ? 0 : cost[0]!.length;
  const flat = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = cost[r]!;
    if (row.length !== cols) throw new Error(`cost matrix row ${r} has ${row.length} columns, expected ${cols}`);
    for (let c = 0; c < cols; c++) flat[r * cols + c] = row[c]!;
  }
  const rowToCol = assignFlat(flat, rows, cols, maxCost);
  const out: Array<[number, number]> = [];
  for (let r = 0; r < rows; r++) if (rowToCol[r]! >= 0) out.push([r, rowToCol[r]!]);
  return out;
}
