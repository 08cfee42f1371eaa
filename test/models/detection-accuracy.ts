/**
 * Detector accuracy against hand-drawn boxes: the hand annotations of vtest.avi frames
 * (test/media/vtest-annotations.json, validated with zod), a greedy IoU matcher giving true
 * positives, false positives and misses per frame, precision and recall per frame and overall,
 * and `runVtestAccuracy()` which runs a detector over the annotated frames at several score
 * thresholds (shared by the test and the benchmark script).
 *
 * Matching rule (the usual PASCAL VOC one): a frame's detections are taken in descending score
 * order; each is matched to the not yet matched annotated person with the highest IoU, provided
 * IoU >= `iouThreshold` (0.5 unless told); each person matches at most one detection. Persons
 * marked `hard` (cut off by the frame edge, mostly hidden) are considered only after the normal
 * persons: a detection matched to a hard person is ignored (neither a true nor a false positive),
 * and an undetected hard person is not a miss. Precision = TP / (TP + FP), recall = TP / (TP + FN);
 * with nothing to count (no counted detections, or no counted persons) they are 1.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { Detector } from "../../models/detector.ts";
import { iou, type Detection } from "../../models/nms.ts";
import { vtestFrame } from "./frames.ts";

export type Box = Detection["box"];

export const VTEST_ANNOTATIONS = fileURLToPath(new URL("../media/vtest-annotations.json", import.meta.url));

const BoxSchema = z
  .tuple([z.number(), z.number(), z.number(), z.number()])
  .refine(([x1, y1, x2, y2]) => x2 > x1 && y2 > y1, "box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1");

const AnnotatedPersonSchema = z.object({ box: BoxSchema, hard: z.boolean().default(false) });

const AnnotationFileSchema = z.object({
  source: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  method: z.string().min(1),
  frames: z.array(
    z.object({
      seconds: z.number().nonnegative(),
      note: z.string().optional(),
      people: z.array(AnnotatedPersonSchema),
    }),
  ),
});

export type AnnotatedPerson = z.infer<typeof AnnotatedPersonSchema>;
export type AnnotationFile = z.infer<typeof AnnotationFileSchema>;
export type AnnotatedFrame = AnnotationFile["frames"][number];

/** the hand annotations of vtest.avi, validated (boxes inside the frame) */
export function loadVtestAnnotations(path = VTEST_ANNOTATIONS): AnnotationFile {
  const file = AnnotationFileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  for (const f of file.frames)
    for (const p of f.people) {
      const [x1, y1, x2, y2] = p.box;
      if (x1 < 0 || y1 < 0 || x2 > file.width || y2 > file.height) throw new Error(`box ${p.box} at ${f.seconds}s is outside the frame`);
    }
  return file;
}

export interface ScoredBox {
  box: Box;
  score: number;
}

export interface MatchOptions {
  /** minimum IoU between a detection and a person to count as the same (default 0.5) */
  iouThreshold?: number;
}

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
  /** detections matched to hard persons (not counted) */
  ignored: number;
}

export interface FrameMatch extends Counts {
  /** detection index -> person index, with the IoU and whether the person is hard (an ignored match) */
  matches: Array<{ detection: number; person: number; iou: number; hard: boolean }>;
  /** indices of detections counted as false positives */
  falsePositives: number[];
  /** indices of non-hard persons that no detection matched */
  misses: number[];
}

export interface Rates {
  precision: number;
  recall: number;
}

export const rates = (c: Pick<Counts, "tp" | "fp" | "fn">): Rates => ({
  precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp),
  recall: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn),
});

/** greedy IoU matching of one frame's detections to its annotated persons (rule in the file header) */
export function matchFrame(detections: readonly ScoredBox[], people: readonly AnnotatedPerson[], opts: MatchOptions = {}): FrameMatch {
  const iouThreshold = opts.iouThreshold ?? 0.5;
  const order = detections.map((_, k) => k).sort((a, b) => detections[b]!.score - detections[a]!.score);
  const taken = new Set<number>();
  const out: FrameMatch = { tp: 0, fp: 0, fn: 0, ignored: 0, matches: [], falsePositives: [], misses: [] };

  const bestFree = (box: Box, hard: boolean): { person: number; iou: number } | undefined => {
    let best: { person: number; iou: number } | undefined;
    people.forEach((p, k) => {
      if (p.hard !== hard || taken.has(k)) return;
      const v = iou(box, p.box);
      if (v >= iouThreshold && (!best || v > best.iou)) best = { person: k, iou: v };
    });
    return best;
  };

  for (const d of order) {
    const box = detections[d]!.box;
    const normal = bestFree(box, false);
    const hit = normal ?? bestFree(box, true);
    if (!hit) {
      out.fp++;
      out.falsePositives.push(d);
      continue;
    }
    taken.add(hit.person);
    out.matches.push({ detection: d, ...hit, hard: !normal });
    if (normal) out.tp++;
    else out.ignored++;
  }
  people.forEach((p, k) => {
    if (!p.hard && !taken.has(k)) out.misses.push(k);
  });
  out.fn = out.misses.length;
  return out;
}

export interface FrameResult extends FrameMatch, Rates {
  seconds: number;
  /** counted (non-hard) persons */
  people: number;
  detections: number;
}

export interface AccuracyReport extends Counts, Rates {
  scoreThreshold: number;
  iouThreshold: number;
  frames: FrameResult[];
  /** mean IoU of the true-positive matches */
  meanIou: number;
}

/** match every frame's detections with score >= scoreThreshold, and total up */
export function evaluate(
  frames: ReadonlyArray<{ seconds: number; people: readonly AnnotatedPerson[]; detections: readonly ScoredBox[] }>,
  scoreThreshold: number,
  opts: MatchOptions = {},
): AccuracyReport {
  const iouThreshold = opts.iouThreshold ?? 0.5;
  const results: FrameResult[] = frames.map((f) => {
    const dets = f.detections.filter((d) => d.score >= scoreThreshold);
    const m = matchFrame(dets, f.people, { iouThreshold });
    return { seconds: f.seconds, people: f.people.filter((p) => !p.hard).length, detections: dets.length, ...m, ...rates(m) };
  });
  const sum = (k: keyof Counts) => results.reduce((s, r) => s + r[k], 0);
  const counts = { tp: sum("tp"), fp: sum("fp"), fn: sum("fn"), ignored: sum("ignored") };
  const tpIous = results.flatMap((r) => r.matches.filter((m) => !m.hard).map((m) => m.iou));
  return {
    scoreThreshold,
    iouThreshold,
    ...counts,
    ...rates(counts),
    frames: results,
    meanIou: tpIous.length ? tpIous.reduce((a, b) => a + b, 0) / tpIous.length : 0,
  };
}

export interface VtestAccuracyRun {
  annotations: AnnotationFile;
  /** per frame: the annotated persons and every detection the detector returned */
  frames: Array<{ seconds: number; people: AnnotatedPerson[]; detections: ScoredBox[] }>;
  reports: AccuracyReport[];
}

/**
 * Runs `det` on each annotated vtest.avi frame (decoded by ffmpeg exactly as annotated) and
 * evaluates at each score threshold; the detector must have been created with a score threshold
 * no higher than the lowest one asked for (NMS is greedy by score, so filtering its output by a
 * higher threshold gives what a detector created with that threshold would return).
 */
export async function runVtestAccuracy(det: Detector, scoreThresholds: readonly number[], opts: MatchOptions = {}): Promise<VtestAccuracyRun> {
  const annotations = loadVtestAnnotations();
  const frames: VtestAccuracyRun["frames"] = [];
  for (const f of annotations.frames) {
    const img = vtestFrame(f.seconds);
    if (img.width !== annotations.width || img.height !== annotations.height) throw new Error(`frame size ${img.width}x${img.height} is not the annotated one`);
    const { detections } = await det.detect(img.rgb, img.width, img.height);
    frames.push({ seconds: f.seconds, people: f.people, detections: detections.map((d) => ({ box: d.box, score: d.score })) });
  }
  return { annotations, frames, reports: scoreThresholds.map((t) => evaluate(frames, t, opts)) };
}

const pct = (v: number) => `${(100 * v).toFixed(0)}%`;

/** a plain-text table of the reports: one row per frame and threshold, then the totals */
export function formatAccuracyTable(reports: readonly AccuracyReport[]): string {
  const rows: string[][] = [["score>=", "frame", "people", "dets", "TP", "FP", "FN", "hard-hit", "precision", "recall"]];
  for (const r of reports) {
    for (const f of r.frames)
      rows.push([r.scoreThreshold.toFixed(2), `${f.seconds}s`, String(f.people), String(f.detections), String(f.tp), String(f.fp), String(f.fn), String(f.ignored), pct(f.precision), pct(f.recall)]);
    const people = r.frames.reduce((s, f) => s + f.people, 0);
    const dets = r.frames.reduce((s, f) => s + f.detections, 0);
    rows.push([r.scoreThreshold.toFixed(2), "all", String(people), String(dets), String(r.tp), String(r.fp), String(r.fn), String(r.ignored), pct(r.precision), pct(r.recall)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padStart(widths[c]!)).join("  ")).join("\n");
}
