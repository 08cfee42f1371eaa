/**
 * The detection loop's pipeline (video/detect/detect-loop.ts with video/detect/inference-worker.ts)
 * on real footage (opencv-doc's vtest.avi, real ffmpeg, the real NanoDet ONNX detector):
 * - the model runs in a worker thread: the caller's session on the loop's thread is never run, and
 *   while a run is pending the loop's thread is free (a setImmediate fires before its result comes
 *   back; on the loop's own thread onnxruntime-node's "async" run blocks until it is done);
 * - the pipelined loop hands out exactly the frames of the unpipelined one (same seq, frame times,
 *   boxes, scores, garment colours, same held frames behind a motion gate), in order;
 * - back-pressure: never more than `pipeline` frames between the source and a slow consumer, and
 *   the pipeline does fill up to it;
 * - stopping: an abort (SIGTERM in the agent) hands out every frame already sent to the worker and
 *   ends; a consumer that stops early ends the worker; failures (a worker that cannot start, a
 *   run that fails) come out of the loop as errors.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { detectFrames, type DetectedFrame, type DetectLoopOptions } from "../../../video/detect/detect-loop.ts";
import { InferenceWorker } from "../../../video/detect/inference-worker.ts";
import { MotionGate } from "../../../video/detect/motion-gate.ts";
import { Detector } from "../../../models/detector.ts";
import { hasVtest, VTEST_AVI, vtestFrame } from "../../models/frames.ts";

const NO_VTEST = !hasVtest();
if (NO_VTEST) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)");

const START_MS = Date.UTC(2026, 10, 23, 10, 0, 0);
const CAMERA = "cam-vtest";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(det: Detector, o: Partial<DetectLoopOptions>, each?: (f: DetectedFrame, k: number) => Promise<boolean | void>): Promise<DetectedFrame[]> {
  const out: DetectedFrame[] = [];
  for await (const f of detectFrames({ camera: CAMERA, detector: det, source: { kind: "file", path: VTEST_AVI }, startMs: START_MS, fps: 5, ...o })) {
    out.push(f);
    if ((await each?.(f, out.length - 1)) === false) break;
  }
  return out;
}

/** what a frame hands out, without the run's shared stats and the timings */
const handedOut = (f: DetectedFrame) => ({ frame: f.frame, index: f.index, sourceIndex: f.sourceIndex, pass: f.pass, t: f.t, width: f.width, height: f.height });

describe.skipIf(NO_VTEST)("the detection loop's inference pipeline on vtest.avi", () => {
  let det: Detector;
  beforeAll(async () => {
    det = await Detector.create({ intraOpNumThreads: 2, scoreThreshold: 0.35 });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await det?.close();
  });

  it("runs the model off the loop's thread", async () => {
    const onThread = vi.spyOn(det.session.session, "run");
    const unpipelined = await collect(det, { durationS: 2, pipeline: 0 });
    expect(onThread).toHaveBeenCalledTimes(unpipelined.length); // the spy sees runs on this thread
    onThread.mockClear();
    const pipelined = await collect(det, { durationS: 2 }); // the default: pipelined
    expect(pipelined.length).toBe(10);
    expect(onThread).not.toHaveBeenCalled();
    onThread.mockRestore();

    // while a run is pending the thread is free; on this thread "async" session.run blocks it
    const frame = vtestFrame(4);
    const ticksDuring = async (run: () => Promise<unknown>) => {
      let ticks = 0;
      let done = false;
      const tick = () => { if (!done) { ticks++; setImmediate(tick); } };
      const p = run();
      setImmediate(tick);
      await p;
      done = true;
      return ticks;
    };
    const input = new Float32Array(det.inputSize);
    det.preprocess(frame.rgb, frame.width, frame.height, input);
    det.preprocess(frame.rgb, frame.width, frame.height);
    const blocked = await ticksDuring(() => det.session.run());
    const worker = await InferenceWorker.start(det);
    try {
      const free = await ticksDuring(() => worker.run(input));
      expect(blocked).toBe(0);
      expect(free).toBeGreaterThan(0);
    } finally {
      await worker.close();
    }
  });

  it("hands out exactly the frames of the unpipelined loop, in order (with and without a motion gate)", async () => {
    const gate = () => new MotionGate({ threshold: 0.02, maxSkip: 3 });
    for (const withGate of [false, true]) {
      const runs: DetectedFrame[][] = [];
      for (const pipeline of [0, 1, 3]) runs.push(await collect(det, { durationS: 5, pipeline, ...(withGate ? { gate: gate() } : {}) }));
      const [plain, ...piped] = runs.map((r) => r.map(handedOut));
      const stats = runs.map((r) => { const s = r.at(-1)!.stats; return { sampled: s.sampled, processed: s.processed, held: s.held, detections: s.detections }; });
      if (!withGate) expect(plain!.length).toBe(25);
      expect(plain!.map((f) => f.frame.seq)).toEqual(plain!.map((_, k) => k));
      expect(plain!.reduce((n, f) => n + f.frame.detections.length, 0)).toBeGreaterThan(plain!.length); // people with colours to compare
      for (const p of piped) expect(p).toEqual(plain);
      for (const s of stats) expect(s).toEqual(stats[0]);
      if (withGate) expect(stats[0]!.held).toBeGreaterThan(0);
      console.log(`${withGate ? "gated" : "ungated"}: ${plain!.length} frames, ${stats[0]!.detections} detections identical at pipeline 0, 1, 3`);
    }
  });

  it("back-pressure: at most `pipeline` frames between the source and a slow consumer", async () => {
    const run = vi.spyOn(InferenceWorker.prototype, "run");
    try {
      for (const pipeline of [1, 3]) {
        run.mockClear();
        let maxAhead = 0;
        const frames = await collect(det, { durationS: 4, pipeline }, async (f) => {
          // frames sent to the worker and not yet handed out (the one the consumer holds is out)
          maxAhead = Math.max(maxAhead, run.mock.calls.length - f.stats.processed);
          await sleep(60); // publishing against a slow broker
        });
        expect(frames.length).toBe(20);
        expect(run).toHaveBeenCalledTimes(20);
        expect(maxAhead).toBe(pipeline);
      }
    } finally {
      run.mockRestore();
    }
  });

  it("an abort hands out the frames already sent to the worker, then ends; a consumer that stops ends the worker", async () => {
    const run = vi.spyOn(InferenceWorker.prototype, "run");
    const close = vi.spyOn(InferenceWorker.prototype, "close");
    try {
      const ac = new AbortController();
      const frames = await collect(det, { durationS: 20, pipeline: 3, signal: ac.signal }, async (_f, k) => {
        if (k === 4) ac.abort();
        await sleep(60); // lets the pipeline fill
      });
      expect(frames.length).toBeGreaterThan(5);
      // the 5 frames before the abort, at most 3 in the worker and one read from the source waiting for a buffer
      expect(frames.length).toBeLessThanOrEqual(5 + 3 + 1);
      expect(run).toHaveBeenCalledTimes(frames.length); // nothing sent to the worker was dropped
      expect(frames.map((f) => f.frame.seq)).toEqual(frames.map((_, k) => k));
      expect(close).toHaveBeenCalledTimes(1);

      close.mockClear();
      const early = await collect(det, { durationS: 20, pipeline: 3 }, async (_f, k) => k < 2);
      expect(early.length).toBe(3);
      expect(close).toHaveBeenCalledTimes(1);
      await close.mock.results[0]!.value;
    } finally {
      run.mockRestore();
      close.mockRestore();
    }
  });

  it("failures come out of the loop: a worker that cannot start, a run that fails", async () => {
    const noModel = Object.create(det, { model: { value: { ...det.model, file: () => "/nonexistent/model.onnx" } } }) as Detector;
    await expect(collect(noModel, { durationS: 2 })).rejects.toThrow(/nonexistent/);

    // the worker's session given a wrong input shape: its first run fails
    const close = vi.spyOn(InferenceWorker.prototype, "close");
    try {
      const wrong = Object.create(det, {
        model: { value: { ...det.model, file: det.model.file, inputShape: [1, 3, 416, 415] } },
        sessionOptions: { value: { ...det.sessionOptions, warmupRuns: 0 } },
      }) as Detector;
      await expect(collect(wrong, { durationS: 2 })).rejects.toThrow(/size|length/i);
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }

    // the worker itself: a failed run rejects its own promise only; runs after close() are refused
    const worker = await InferenceWorker.start(det);
    await expect(worker.run(new Float32Array(10))).rejects.toThrow(/size|length/i);
    const ok = await worker.run(new Float32Array(det.inputSize));
    expect(Object.keys(ok.outputs).length).toBeGreaterThan(0);
    expect(ok.input.length).toBe(det.inputSize); // handed back for the next frame
    await worker.close();
    await expect(worker.run(new Float32Array(det.inputSize))).rejects.toThrow(/closed/);
  });
});
