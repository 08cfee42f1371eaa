/**
 * The optimal one-to-one assignment between ground-truth ids and hypothesis ids that IDF1 needs
 * (Ristani et al. 2016): the matching that maximises the number of shared frames (IDTP).
 *
 * The id-overlap matrix is sparse (a tracklet meets few people), so it is split into connected
 * components of the bipartite "shared at least one frame" graph and each component is solved on
 * its own with the Hungarian method (O(n² m), n <= m the component's sides). Ids without any
 * overlap are never assigned: they add to IDFN / IDFP only. Self-contained on purpose; it does not
 * depend on the tracker's assignment module.
 */

/**
 * Minimum-cost assignment of every row to a distinct column of a dense rows x cols matrix
 * (row-major), rows <= cols. Returns for each row its column. Hungarian method with potentials.
 */
export function solveMinCostAssignment(cost: Float64Array, rows: number, cols: number): Int32Array {
  if (rows > cols) throw new Error(`solveMinCostAssignment needs rows <= cols (got ${rows} x ${cols})`);
  if (cost.length < rows * cols) throw new Error("cost matrix smaller than rows x cols");
  const u = new Float64Array(rows + 1);
  const v = new Float64Array(cols + 1);
  const p = new Int32Array(cols + 1); // p[j]: row (1-based) assigned to column j, 0 = none
  const way = new Int32Array(cols + 1);
  const minv = new Float64Array(cols + 1);
  const used = new Uint8Array(cols + 1);
  for (let i = 1; i <= rows; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      const base = (i0 - 1) * cols - 1;
      const ui0 = u[i0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (used[j]) continue;
        const cur = cost[base + j]! - ui0 - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= cols; j++) {
        if (used[j]) {
          u[p[j]!] = u[p[j]!]! + delta;
          v[j] = v[j]! - delta;
        } else {
          minv[j] = minv[j]! - delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Int32Array(rows).fill(-1);
  for (let j = 1; j <= cols; j++) if (p[j]! > 0) out[p[j]! - 1] = j - 1;
  return out;
}

/** gt id -> hyp id -> frames shared (only positive counts need be present) */
export type OverlapTable = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The one-to-one gt <-> hyp assignment maximising the summed overlap. Returns [gt, hyp, overlap]
 * for every assigned pair with overlap > 0, sorted by gt id.
 */
export function maxOverlapAssignment(overlap: OverlapTable): [string, string, number][] {
  // union-find over gt ids (0..G-1) and hyp ids (G..)
  const gtIndex = new Map<string, number>();
  const hypIndex = new Map<string, number>();
  const gtNames: string[] = [];
  const hypNames: string[] = [];
  for (const [g, row] of overlap) {
    for (const [h, n] of row) {
      if (!(n > 0)) continue;
      if (!gtIndex.has(g)) { gtIndex.set(g, gtNames.length); gtNames.push(g); }
      if (!hypIndex.has(h)) { hypIndex.set(h, hypNames.length); hypNames.push(h); }
    }
  }
  const G = gtNames.length;
  const parent = new Int32Array(G + hypNames.length);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (const [g, row] of overlap) {
    const gi = gtIndex.get(g);
    if (gi === undefined) continue;
    for (const [h, n] of row) {
      if (!(n > 0)) continue;
      const a = find(gi), b = find(G + hypIndex.get(h)!);
      if (a !== b) parent[a] = b;
    }
  }
  const components = new Map<number, { gts: string[]; hyps: string[] }>();
  const component = (root: number) => {
    let c = components.get(root);
    if (!c) components.set(root, (c = { gts: [], hyps: [] }));
    return c;
  };
  for (let i = 0; i < G; i++) component(find(i)).gts.push(gtNames[i]!);
  for (let j = 0; j < hypNames.length; j++) component(find(G + j)).hyps.push(hypNames[j]!);

  const pairs: [string, string, number][] = [];
  const n = (g: string, h: string) => overlap.get(g)?.get(h) ?? 0;
  for (const { gts, hyps } of components.values()) {
    gts.sort();
    hyps.sort();
    if (gts.length === 1 || hyps.length === 1) {
      // a star: the single best edge is optimal (first id wins ties)
      let best: [string, string, number] | null = null;
      for (const g of gts) for (const h of hyps) {
        const w = n(g, h);
        if (w > 0 && (!best || w > best[2])) best = [g, h, w];
      }
      if (best) pairs.push(best);
      continue;
    }
    const transpose = gts.length > hyps.length;
    const rowIds = transpose ? hyps : gts;
    const colIds = transpose ? gts : hyps;
    const cost = new Float64Array(rowIds.length * colIds.length);
    for (let r = 0; r < rowIds.length; r++) {
      for (let c = 0; c < colIds.length; c++) {
        cost[r * colIds.length + c] = -(transpose ? n(colIds[c]!, rowIds[r]!) : n(rowIds[r]!, colIds[c]!));
      }
    }
    const assigned = solveMinCostAssignment(cost, rowIds.length, colIds.length);
    for (let r = 0; r < rowIds.length; r++) {
      const c = assigned[r]!;
      if (c < 0) continue;
      const g = transpose ? colIds[c]! : rowIds[r]!;
      const h = transpose ? rowIds[r]! : colIds[c]!;
      const w = n(g, h);
      if (w > 0) pairs.push([g, h, w]);
    }
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs;
}
