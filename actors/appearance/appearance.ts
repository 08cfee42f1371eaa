import type { AttrVotes } from "../../contracts/track-messages.ts";

/**
 * Appearance evidence of tracklets and persons, and how alike two of them look: attribute votes
 * (attribute -> value -> summed confidence; summing is commutative, so the order in which
 * evidence arrives does not matter) compared with the Bhattacharyya coefficient of their
 * normalised distributions, and mean embeddings compared with the cosine distance.
 */

export interface Appearance {
  votes: AttrVotes;
  emb?: number[] | undefined;
}

export interface AppearanceParams {
  attrWeight: number;
  embWeight: number;
  appearanceAttrs: readonly string[];
  contradictionVotes: number;
  contradictionShare: number;
}

const own = (o: Record<string, number>, k: string) => (Object.hasOwn(o, k) ? o[k]! : 0);

/** Adds `from` into `into` (mutates). Keys that could reach Object.prototype are ignored. */
export function addVotes(into: AttrVotes, from: AttrVotes | undefined): void {
  if (!from) return;
  for (const [attr, values] of Object.entries(from)) {
    if (attr === "__proto__") continue;
    let target = Object.hasOwn(into, attr) ? into[attr]! : undefined;
    for (const [value, conf] of Object.entries(values)) {
      if (value === "__proto__" || !(conf > 0)) continue;
      if (!target) target = into[attr] = {};
      target[value] = own(target, value) + conf;
    }
  }
}

/** The value with the most summed confidence (ties: the smaller value, for determinism), its share, and the total. */
export function topValue(values: Record<string, number>): { value: string; share: number; total: number } | undefined {
  let total = 0, best: string | undefined, bestConf = -1;
  for (const [value, conf] of Object.entries(values)) {
    total += conf;
    if (conf > bestConf || (conf === bestConf && best !== undefined && value < best)) { best = value; bestConf = conf; }
  }
  if (best === undefined || total <= 0) return undefined;
  return { value: best, share: bestConf / total, total };
}

/** Bhattacharyya coefficient of two vote distributions (1 = identical, 0 = disjoint). */
export function bhattacharyya(a: Record<string, number>, b: Record<string, number>): number {
  let ta = 0, tb = 0;
  for (const v of Object.values(a)) ta += v;
  for (const v of Object.values(b)) tb += v;
  if (ta <= 0 || tb <= 0) return 0;
  let bc = 0;
  for (const [value, conf] of Object.entries(a)) bc += Math.sqrt((conf / ta) * (own(b, value) / tb));
  return Math.min(1, bc);
}

/** Cosine distance of two embeddings clamped to 0..1; undefined when they cannot be compared. */
export function cosineDistance(a: readonly number[], b: readonly number[]): number | undefined {
  if (a.length === 0 || a.length !== b.length) return undefined;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! * a[i]!; nb += b[i]! * b[i]!; }
  if (na === 0 || nb === 0) return undefined;
  return Math.min(1, Math.max(0, 1 - dot / Math.sqrt(na * nb)));
}

/**
 * The appearance term of a link's cost: attrWeight x mean (1 - Bhattacharyya) over the compared
 * attributes both sides have evidence for, plus embWeight x cosine distance when both have an
 * embedding. "contradiction" when both sides are confident about an attribute (enough votes, a
 * dominant value) and their dominant values differ: such a pair is never linked.
 */
export function appearanceCost(a: Appearance, b: Appearance, p: AppearanceParams): number | "contradiction" {
  let sum = 0, n = 0;
  for (const attr of p.appearanceAttrs) {
    const va = Object.hasOwn(a.votes, attr) ? a.votes[attr]! : undefined;
    const vb = Object.hasOwn(b.votes, attr) ? b.votes[attr]! : undefined;
    if (!va || !vb) continue;
    const ta = topValue(va), tb = topValue(vb);
    if (!ta || !tb) continue;
    if (ta.value !== tb.value && confident(ta, p) && confident(tb, p)) return "contradiction";
    sum += 1 - bhattacharyya(va, vb);
    n++;
  }
  let cost = n > 0 ? (p.attrWeight * sum) / n : 0;
  if (a.emb && b.emb) {
    const d = cosineDistance(a.emb, b.emb);
    if (d !== undefined) cost += p.embWeight * d;
  }
  return cost;
}

const confident = (t: { share: number; total: number }, p: AppearanceParams) =>
  t.total >= p.contradictionVotes && t.share >= p.contradictionShare;
