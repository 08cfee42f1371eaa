/**
 * Person detection benchmark on real footage (a script, not a test): the camera agent's detection
 * loop (video/detect/detect-loop.ts — ffmpeg sampler, NanoDet-m ONNX at 416x416, garment colours)
 * over opencv-doc's vtest.avi (768x576, 10 fps), sampled at --fps, once per intra-op thread count.
 * Prints ms per frame of each stage and frames/s in a table:
 *
 *   decode   ffmpeg decoding + sampling alone (a separate pass that only reads the frames)
 *   wait     what the loop actually waited for the next frame (ffmpeg decodes the next frame while
 *            the detector works on this one, so most of the decode is hidden)
 *   pre      letterbox 768x576 -> 416x416 into the input tensor
 *   infer    ONNX Runtime
 *   post     output decoding + NMS + mapping boxes back to source pixels
 *   colours  garment colours of every box + building the contract frame
 *   loop fps frames handed out per second of wall time (everything above, end to end)
 *   det fps  1000 / (pre + infer + post): the detector alone
 *
 *   npx tsx test/bench/video/detector.ts [--seconds 30] [--fps 5] [--threads 1,2] [--motion]
 *
 * (Replaces test/bench/detector.ts, which fed pre-scaled 416x416 frames and fell back to a test
 * pattern when opencv-doc's path was missing.)
 */
import { Command } from "commander";
import { detectFrames } from "../../../video/detect/detect-loop.ts";
import { DetectStats } from "../../../video/detect/detect-stats.ts";
import { probeSource, sampleFrames } from "../../../video/detect/frame-sampler.ts";
import { MotionGate } from "../../../video/detect/motion-gate.ts";
import { Detector } from "../../../models/detector.ts";
import { ensureNanodetOnnx } from "../../../models/convert-nanodet.ts";
import { hasVtest, VTEST_AVI } from "../../models/frames.ts";

const opts = new Command()
  .option("--seconds <s>", "seconds of the clip to run, per thread setting", "30")
  .option("--fps <n>", "frames sampled per second of the clip", "5")
  .option("--threads <list>", "intra-op thread counts", "1,2")
  .option("--motion", "motion gate in front of the detector (default threshold)")
  .parse()
  .opts<{ seconds: string; fps: string; threads: string; motion?: boolean }>();

if (!hasVtest()) {
  console.log(`${VTEST_AVI} missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)`);
  process.exit(0);
}
const seconds = Number(opts.seconds);
const fps = Number(opts.fps);
const conv = ensureNanodetOnnx();
const info = await probeSource(VTEST_AVI);
console.log(
  `model ${conv.out} (${(conv.bytes / 1e6).toFixed(1)} MB${conv.converted ? ", converted now" : ", cached"}), input 416x416; ` +
    `vtest.avi ${info.width}x${info.height} at ${info.fps} fps, first ${seconds} s sampled at ${fps} fps${opts.motion ? ", motion gate on" : ""}`,
);

// ffmpeg decoding and sampling alone
const t0 = performance.now();
let decoded = 0;
for await (const _ of sampleFrames({ source: VTEST_AVI, info, fps, durationS: seconds })) decoded++;
const decodeMs = (performance.now() - t0) / decoded;

const f1 = (v: number) => v.toFixed(1);
const rows: string[][] = [["threads", "frames", "decode", "wait", "pre", "infer", "post", "colours", "loop ms", "loop fps", "det fps", "persons/frame"]];
for (const threads of opts.threads.split(",").map(Number)) {
  const detector = await Detector.create({ intraOpNumThreads: threads, warmupRuns: 3 });
  const stats = new DetectStats();
  const start = performance.now();
  for await (const _ of detectFrames({
    camera: "bench", source: { kind: "file", path: VTEST_AVI }, detector, info, stats, fps, durationS: seconds,
    ...(opts.motion ? { gate: new MotionGate() } : {}),
  })) { /* frames are only counted */ }
  const wall = performance.now() - start;
  await detector.close();
  rows.push([
    String(threads), `${stats.processed}/${stats.sampled}`, f1(decodeMs), f1(stats.mean("decode")), f1(stats.mean("pre")), f1(stats.mean("infer")),
    f1(stats.mean("post")), f1(stats.mean("colours")), f1(wall / stats.processed), f1(stats.processed / (wall / 1000)),
    f1(1000 / stats.detectMean), f1(stats.detections / Math.max(1, stats.processed)),
  ]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
console.log("\nms per frame:");
for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c]!)).join("  "));
