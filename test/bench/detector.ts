/**
 * Person detector benchmark (a script, not a test): NanoDet-m converted to ONNX, run by
 * onnxruntime-node on real frames (opencv-doc's vtest.avi when installed, else ffmpeg's testsrc2),
 * for 1 and 2 intra-op threads. Prints ms per frame per stage (video decode by ffmpeg, pre =
 * letterbox, infer, decode = output decoding, post = NMS) and frames/s of the detector.
 *
 *   npx tsx test/bench/detector.ts [--frames 60] [--size 416x416] [--threads 1,2]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { Command } from "commander";
import { Detector, type StageTimings } from "../../models/detector.ts";
import { ensureNanodetOnnx } from "../../models/convert-nanodet.ts";

const VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
const opts = new Command()
  .option("--frames <n>", "frames per thread setting", "60")
  .option("--size <WxH>", "frame size fed to the detector", "416x416")
  .option("--threads <list>", "intra-op thread counts", "1,2")
  .parse()
  .opts<{ frames: string; size: string; threads: string }>();

const n = Number(opts.frames);
const [w, h] = opts.size.split("x").map(Number) as [number, number];
const source = existsSync(VTEST) ? ["-i", VTEST] : ["-f", "lavfi", "-i", `testsrc2=size=${w}x${h}:rate=25`];

const conv = ensureNanodetOnnx();
console.log(`model ${conv.out} (${(conv.bytes / 1e6).toFixed(1)} MB${conv.converted ? `, converted in ${conv.ms.toFixed(0)} ms` : ", cached"})`);

// decode all frames once, timed: video decode cost per frame
const t0 = performance.now();
const r = spawnSync("/usr/bin/ffmpeg", ["-v", "error", ...source, "-frames:v", String(n), "-vf", `scale=${w}:${h}`, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], {
  maxBuffer: 1 << 30,
});
const decodeMs = (performance.now() - t0) / n;
if (r.status !== 0) throw new Error(r.stderr.toString());
const frameBytes = w * h * 3;
const frames = Array.from({ length: Math.floor(r.stdout.length / frameBytes) }, (_, k) => r.stdout.subarray(k * frameBytes, (k + 1) * frameBytes));
console.log(`${frames.length} frames ${w}x${h} from ${existsSync(VTEST) ? "vtest.avi" : "testsrc2"}; ffmpeg decode+scale ${decodeMs.toFixed(2)} ms/frame`);

for (const threads of opts.threads.split(",").map(Number)) {
  const det = await Detector.create({ intraOpNumThreads: threads, warmupRuns: 3 });
  const sum: StageTimings = { pre: 0, infer: 0, decode: 0, post: 0 };
  let persons = 0;
  const start = performance.now();
  for (const f of frames) {
    const res = await det.detect(f, w, h);
    persons += res.detections.length;
    for (const k of Object.keys(sum) as Array<keyof StageTimings>) sum[k] += res.timings[k];
  }
  const wall = performance.now() - start;
  await det.close();
  const per = (v: number) => (v / frames.length).toFixed(2);
  console.log(
    `threads ${threads}: pre ${per(sum.pre)} ms, infer ${per(sum.infer)} ms, decode ${per(sum.decode)} ms, post ${per(sum.post)} ms` +
      ` | ${(frames.length / (wall / 1000)).toFixed(1)} frames/s (${per(wall)} ms/frame) | ${(persons / frames.length).toFixed(1)} persons/frame`,
  );
}
