/** The path explorer's pure parts: the query it sends and the dwell it derives from the paths it gets. */
import type { PathItem } from "./rest.ts";

export interface ExplorerFilter {
  upper?: string | undefined;
  lower?: string | undefined;
  zone?: string | undefined;
  /** one more attribute, "name=value" */
  extra?: string | undefined;
  minConfidence?: number | undefined;
  from: number;
  to: number;
}

const EXTRA_RE = /^([a-z][a-z0-9_]{0,31})=([a-z0-9_-]{1,32})$/;

/** The /paths (and /stats/distance) query of a filter; an unreadable extra attribute is an error. */
export function explorerQuery(f: ExplorerFilter): { query: URLSearchParams } | { error: string } {
  const q = new URLSearchParams();
  q.set("from", String(Math.round(f.from)));
  q.set("to", String(Math.round(f.to)));
  if (f.upper) q.set("upper", f.upper);
  if (f.lower) q.set("lower", f.lower);
  if (f.zone) q.set("zone", f.zone);
  if (f.minConfidence) q.set("min_confidence", String(f.minConfidence));
  const extra = f.extra?.trim().toLowerCase();
  if (extra) {
    const m = EXTRA_RE.exec(extra);
    if (!m) return { error: "another attribute is written name=value, e.g. shoes=white" };
    if (["site", "from", "to", "upper", "lower", "zone", "limit", "cursor", "order", "min_confidence"].includes(m[1]!)) return { error: `"${m[1]}" is not an attribute name` };
    q.set(m[1]!, m[2]!);
  }
  return { query: q };
}

/** A short description of a filter: "upper = blue · lower = black · zone Cafe". */
export function describeFilter(f: ExplorerFilter, nameOf: (space: string) => string): string {
  const parts: string[] = [];
  if (f.upper) parts.push(`upper = ${f.upper}`);
  if (f.lower) parts.push(`lower = ${f.lower}`);
  if (f.extra?.trim()) parts.push(f.extra.trim().replace("=", " = "));
  if (f.zone) parts.push(`visited ${nameOf(f.zone)}`);
  return parts.length > 0 ? parts.join(" · ") : "everybody";
}

export interface SpaceDwell { space: string; visits: number; medianS: number; meanS: number }

/** Per space, the visits of these people that entered within [from, to]: count, median and mean dwell. */
export function dwellBySpace(items: readonly PathItem[], from: number, to: number): SpaceDwell[] {
  const by = new Map<string, number[]>();
  for (const it of items) {
    for (const v of it.visits) {
      if (v.enter < from || v.enter > to || v.leave < v.enter) continue;
      const list = by.get(v.space) ?? [];
      list.push((v.leave - v.enter) / 1000);
      by.set(v.space, list);
    }
  }
  return [...by.entries()].map(([space, d]) => {
    const sorted = [...d].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    return { space, visits: d.length, medianS: median, meanS: d.reduce((a, b) => a + b, 0) / d.length };
  }).sort((a, b) => b.visits - a.visits || a.space.localeCompare(b.space));
}
