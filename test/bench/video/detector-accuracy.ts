/**
 * Detector accuracy on real footage (a script, not a test): runs the person detector on the
 * hand-annotated frames of opencv-doc's vtest.avi (test/media/vtest-annotations.json) and prints
 * per-frame and overall TP / FP / FN, precision and recall at each score threshold (matching by
 * IoU >= --iou, greedy in score order; "hard" people neither missed nor false positives), then the
 * false positives and misses with their boxes and scores.
 *
 *   npx tsx test/bench/detector-accuracy.ts [--thresholds 0.25,0.35,0.5,0.65] [--iou 0.5] [--model nanodet-m]
 */
import { Command } from "commander";
import { Detector } from "../../../models/detector.ts";
import { formatAccuracyTable, runVtestAccuracy } from "../../models/detection-accuracy.ts";
import { hasVtest, VTEST_AVI } from "../../models/frames.ts";

const opts = new Command()
  .option("--thresholds <list>", "score thresholds", "0.25,0.35,0.5,0.65")
  .option("--iou <v>", "IoU needed for a detection to match an annotated person", "0.5")
  .option("--model <name>", "detector model (registered name or yolov8:/path.onnx[:size])", "nanodet-m")
  .parse()
  .opts<{ thresholds: string; iou: string; model: string }>();

if (!hasVtest()) {
  console.log(`${VTEST_AVI} missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)`);
  process.exit(0);
}

const thresholds = opts.thresholds.split(",").map(Number).sort((a, b) => a - b);
const iouThreshold = Number(opts.iou);
const det = await Detector.create({ model: opts.model, intraOpNumThreads: 2, scoreThreshold: thresholds[0]! });
const run = await runVtestAccuracy(det, thresholds, { iouThreshold });
await det.close();

const people = run.annotations.frames.flatMap((f) => f.people);
console.log(
  `${det.model.name} on ${run.annotations.source}: ${run.frames.length} hand-annotated frames (${run.frames.map((f) => `${f.seconds}s`).join(", ")}),` +
    ` ${people.filter((p) => !p.hard).length} people + ${people.filter((p) => p.hard).length} hard; match at IoU >= ${iouThreshold}\n`,
);
console.log(formatAccuracyTable(run.reports));
console.log("");
for (const r of run.reports)
  console.log(`score >= ${r.scoreThreshold}: precision ${r.precision.toFixed(3)}, recall ${r.recall.toFixed(3)}, mean IoU of matches ${r.meanIou.toFixed(3)}`);

const fmt = (b: readonly number[]) => `[${b.map((v) => v.toFixed(0)).join(",")}]`;
const lowest = run.reports[0]!;
console.log(`\nat score >= ${lowest.scoreThreshold}:`);
for (const [k, f] of lowest.frames.entries()) {
  const frame = run.frames[k]!;
  const dets = frame.detections.filter((d) => d.score >= lowest.scoreThreshold);
  for (const i of f.falsePositives) {
    const d = dets[i]!;
    const near = Math.max(0, ...frame.people.map((p) => iouOf(d.box, p.box)));
    console.log(`  ${f.seconds}s false positive ${fmt(d.box)} score ${d.score.toFixed(2)} (best IoU with an annotated person ${near.toFixed(2)})`);
  }
  for (const i of f.misses) {
    const p = frame.people[i]!;
    const near = Math.max(0, ...dets.map((d) => iouOf(d.box, p.box)));
    console.log(`  ${f.seconds}s missed ${fmt(p.box)} (best IoU with a detection ${near.toFixed(2)})`);
  }
  for (const m of f.matches.filter((x) => x.hard)) console.log(`  ${f.seconds}s hard person ${fmt(frame.people[m.person]!.box)} detected, score ${dets[m.detection]!.score.toFixed(2)} (ignored)`);
}

function iouOf(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!);
  const ih = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter);
}
