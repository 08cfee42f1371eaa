import type { DistanceMetrics, MotMetrics, PathQueryMetrics, TrackingEvaluation, ZoneOccupancyMetrics } from "./types.ts";

/**
 * Plain-text accuracy report for test/bench/tracking: one table row per camera, the pooled
 * single-camera figures, the cross-camera figures, then path queries, distance and zone occupancy.
 */

export interface AccuracyReportInput {
  title?: string;
  tracking: TrackingEvaluation;
  pathQueries?: readonly PathQueryMetrics[];
  distance?: DistanceMetrics;
  zones?: ZoneOccupancyMetrics;
}

const num = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : "n/a");

/** Pools per-camera metrics: counts summed, ratios recomputed from the sums. */
export function poolCameras(ms: Iterable<MotMetrics>): Omit<MotMetrics, "assignment"> {
  const s = {
    frames: 0, gt: 0, hyp: 0, matches: 0, fn: 0, fp: 0, idsw: 0, fm: 0, unknownOids: 0,
    gtIds: 0, hypIds: 0, mt: 0, pt: 0, ml: 0, idtp: 0,
  };
  for (const m of ms) for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += m[k];
  const r = (a: number, b: number) => (b === 0 ? NaN : a / b);
  return {
    ...s,
    mota: s.gt === 0 ? NaN : 1 - (s.fn + s.fp + s.idsw) / s.gt,
    recall: r(s.matches, s.gt),
    precision: r(s.matches, s.hyp),
    idfp: s.hyp - s.idtp,
    idfn: s.gt - s.idtp,
    idf1: r(2 * s.idtp, s.gt + s.hyp),
    idp: r(s.idtp, s.hyp),
    idr: r(s.idtp, s.gt),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

export function formatAccuracyReport(input: AccuracyReportInput): string {
  const out: string[] = [];
  if (input.title) out.push(input.title, "");
  const head = ["scope", "frames", "GT", "FN", "FP", "IDSW", "FM", "MT/PT/ML", "MOTA", "IDF1", "IDP", "IDR"];
  const row = (name: string, m: Omit<MotMetrics, "assignment">) => [
    name, String(m.frames), String(m.gt), String(m.fn), String(m.fp), String(m.idsw), String(m.fm),
    `${m.mt}/${m.pt}/${m.ml}`, num(m.mota), num(m.idf1), num(m.idp), num(m.idr),
  ];
  const rows = [head];
  for (const [camera, m] of input.tracking.perCamera) rows.push(row(camera, m));
  rows.push(row("all cameras (pooled)", poolCameras(input.tracking.perCamera.values())));
  rows.push(row("cross-camera", input.tracking.crossCamera));
  out.push(table(rows));
  const unknown = input.tracking.crossCamera.unknownOids;
  if (unknown > 0) out.push(`warning: ${unknown} hypotheses name an oid absent from their truth frame (frame keys differ?)`);

  if (input.pathQueries?.length) {
    out.push("");
    const q = [["path query", "returned", "correct", "precision", "relevant", "found", "recall"]];
    for (const p of input.pathQueries) {
      const f = Object.entries(p.filter).map(([k, v]) => `${k}=${v}`).join("&") || "(all)";
      q.push([f, String(p.returned), String(p.truePositives), num(p.precision), String(p.relevant), String(p.found), num(p.recall)]);
    }
    out.push(table(q));
  }
  if (input.distance) {
    const d = input.distance;
    out.push(
      "",
      `distance walked: system mean ${num(d.systemMean, 1)} m over ${d.systemTracks} tracks, true mean ${num(d.trueMean, 1)} m over ${d.truePersons} persons, error ${pct(d.relativeError)}`,
      `  per matched pair (${d.pairs}): mean |error| ${num(d.pairMeanAbsError, 1)} m, mean relative |error| ${pct(d.pairMeanRelError)}`,
    );
  }
  if (input.zones) {
    const z = input.zones;
    out.push(
      "",
      `zone occupancy (${z.samples} samples): mean |error| ${num(z.meanAbsError, 2)}, max ${z.maxAbsError}, ` +
        `sum|error|/sum true ${pct(z.relativeAbsError)}, total error ${pct(z.relativeTotalError)}`,
    );
  }
  return out.join("\n");
}
