/**
 * Person detection benchmark on real footage (a script, not a test): the camera agent's detection
 * loop (video/detect/detect-loop.ts — ffmpeg sampler, NanoDet-m ONNX at 416x416, garment colours)
 * over opencv-doc's vtest.avi (768x576, 10 fps), sampled at --fps, per intra-op thread count and
 * per pipeline depth (frames in flight in the inference worker thread; 0 = no worker, one frame at a
 * time on the loop's thread) — beside its peer, a *bare* loop: `session.run` alone, back to back,
 * on the same frames' input tensors (letterboxed beforehand), same model, same thread count.
 * Prints ms per frame of each stage and the per-frame cost of loop and bare loop, with their
 * ratio, in a table (median of --runs runs, range in brackets; the stage columns are medians):
 *
 *   decode   ffmpeg decoding + sampling alone (a separate pass that only reads the frames)
 *   wait     what the loop actually waited for the next frame (ffmpeg decodes the next frame while
 *            the detector works on this one, so most of the decode is hidden)
 *   pre      letterbox 768x576 -> 416x416 into the input tensor
 *   infer    ONNX Runtime (in the worker thread when pipelined)
 *   post     output decoding + NMS + mapping boxes back to source pixels
 *   colours  garment colours of every box + building the contract frame
 *   loop     ms per frame handed out, steady state: (time of the last frame - time of the first)
 *            / (frames - 1), everything above end to end
 *   bare     ms per frame of session.run alone, measured the same way
 *   ratio    loop / bare (per run; median and range over the runs)
 *   loop fps 1000 / loop
 *   det fps  1000 / (pre + infer + post): the detector alone
 *
 *   npx tsx test/bench/video/detector.ts [--seconds 30] [--fps 5] [--threads 1,2] [--pipeline 0,2] [--runs 3] [--motion]
 *
 * (Replaces test/bench/detector.ts, which fed pre-scaled 416x416 frames and fell back to a test
 * pattern when opencv-doc's path was missing.)
 */
import { Command } from "commander";
import * as ort from "onnxruntime-node";
import { detectFrames } from "../../../video/detect/detect-loop.ts";
import { DetectStats, STAGES, type Stage } from "../../../video/detect/detect-stats.ts";
import { probeSource, sampleFrames } from "../../../video/detect/frame-sampler.ts";
import { MotionGate } from "../../../video/detect/motion-gate.ts";
import { Detector } from "../../../models/detector.ts";
import { ensureNanodetOnnx } from "../../../models/convert-nanodet.ts";
import { hasVtest, VTEST_AVI } from "../../models/frames.ts";

const opts = new Command()
  .option("--seconds <s>", "seconds of the clip to run, per thread setting", "30")
  .option("--fps <n>", "frames sampled per second of the clip", "5")
  .option("--threads <list>", "intra-op thread counts", "1,2")
  .option("--pipeline <list>", "pipeline depths (frames in flight in the inference worker; 0: no worker)", "0,2")
  .option("--runs <n>", "runs of loop and bare loop per setting (median and range printed)", "3")
  .option("--motion", "motion gate in front of the detector (default threshold)")
  .parse()
  .opts<{ seconds: string; fps: string; threads: string; pipeline: string; runs: string; motion?: boolean }>();

if (!hasVtest()) {
  console.log(`${VTEST_AVI} missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)`);
  process.exit(0);
}
const seconds = Number(opts.seconds);
const fps = Number(opts.fps);
const runs = Number(opts.runs);
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error("--runs must be a whole number >= 1");
const conv = ensureNanodetOnnx();
const info = await probeSource(VTEST_AVI);
console.log(
  `model ${conv.out} (${(conv.bytes / 1e6).toFixed(1)} MB${conv.converted ? ", converted now" : ", cached"}), input 416x416; ` +
    `vtest.avi ${info.width}x${info.height} at ${info.fps} fps, first ${seconds} s sampled at ${fps} fps${opts.motion ? ", motion gate on" : ""}; ` +
    `median of ${runs} run(s) [range]`,
);

// ffmpeg decoding and sampling alone; the frames are kept for the bare loop's input tensors
const t0 = performance.now();
const rgbFrames: Array<{ rgb: Uint8Array; width: number; height: number }> = [];
for await (const f of sampleFrames({ source: VTEST_AVI, info, fps, durationS: seconds })) rgbFrames.push({ rgb: f.rgb, width: f.width, height: f.height });
const decodeMs = (performance.now() - t0) / rgbFrames.length;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);
const withRange = (xs: number[], f: (v: number) => string) => (xs.length > 1 ? `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]` : f(xs[0]!));

/** ms per frame of session.run alone on `tensors`, back to back (steady state, as the loop) */
async function bareLoop(detector: Detector, tensors: ort.Tensor[]): Promise<number> {
  const { session, inputName } = detector.session;
  let first = 0;
  let last = 0;
  for (let k = 0; k < tensors.length; k++) {
    await session.run({ [inputName]: tensors[k]! });
    last = performance.now();
    if (k === 0) first = last;
  }
  return (last - first) / (tensors.length - 1);
}

const rows: string[][] = [["threads", "pipeline", "frames", "decode", "wait", "pre", "infer", "post", "colours", "loop ms", "bare ms", "loop/bare", "loop fps", "det fps", "persons/frame"]];
for (const threads of opts.threads.split(",").map(Number)) {
  const detector = await Detector.create({ intraOpNumThreads: threads, warmupRuns: 3 });
  // the bare loop's inputs: every frame letterboxed beforehand, one tensor each
  const tensors = rgbFrames.map((f) => {
    const input = new Float32Array(detector.inputSize);
    detector.preprocess(f.rgb, f.width, f.height, input);
    return new ort.Tensor("float32", input, [...detector.model.inputShape]);
  });
  for (const depth of opts.pipeline.split(",").map(Number)) {
    const loopMs: number[] = [];
    const bareMs: number[] = [];
    const ratios: number[] = [];
    const detMs: number[] = [];
    const stageMs: Record<Stage, number[]> = Object.fromEntries(STAGES.map((s) => [s, []])) as unknown as Record<Stage, number[]>;
    let frames = "";
    let persons = 0;
    for (let r = 0; r < runs; r++) {
      const stats = new DetectStats();
      let first = 0;
      let last = 0;
      for await (const _ of detectFrames({
        camera: "bench", source: { kind: "file", path: VTEST_AVI }, detector, info, stats, fps, durationS: seconds, pipeline: depth,
        ...(opts.motion ? { gate: new MotionGate() } : {}),
      })) {
        last = performance.now();
        if (stats.processed === 1) first = last;
      }
      const loop = (last - first) / (stats.processed - 1);
      const bare = await bareLoop(detector, tensors.slice(0, stats.processed));
      loopMs.push(loop);
      bareMs.push(bare);
      ratios.push(loop / bare);
      for (const s of STAGES) stageMs[s].push(stats.mean(s));
      detMs.push(stats.detectMean);
      frames = `${stats.processed}/${stats.sampled}`;
      persons = stats.detections / Math.max(1, stats.processed);
    }
    rows.push([
      String(threads), String(depth), frames, f1(decodeMs), f1(median(stageMs.decode)), f1(median(stageMs.pre)), f1(median(stageMs.infer)),
      f1(median(stageMs.post)), f1(median(stageMs.colours)), withRange(loopMs, f1), withRange(bareMs, f1), withRange(ratios, f2), f1(1000 / median(loopMs)),
      f1(1000 / median(detMs)), f1(persons),
    ]);
  }
  await detector.close();
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
console.log("\nms per frame:");
for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c]!)).join("  "));
