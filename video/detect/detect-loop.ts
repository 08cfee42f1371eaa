/**
 * The camera agent's detection loop: video source -> motion gate -> person detector -> garment
 * colours -> DetectionFrames of the camera event contract (contracts/detection.ts), as an async
 * iterator. What a consumer does with a frame (publish it over MQTT: video/detect/main.ts;
 * print it: `footfall detect`, infra/cli/detect-command.ts) is up to the consumer.
 *
 *   for await (const f of detectFrames({ camera: "cam-1", source, detector })) publish(f.frame);
 *
 * - Source (video/detect/detect-source.ts): a file read fast, a file paced in real time, a looped
 *   file, or a live URL. Frames are placed on the run's timeline t (seconds).
 * - frame_ts = startMs + round(t·1000): `startMs` is the wall time of the source's pts 0 — by
 *   default the wall clock when the loop starts (a live camera); for a file read fast in tests and
 *   demos, a chosen start time gives simulated time (a 60 s file read in 10 s still spans 60 s of
 *   frame time). Frame times strictly grow.
 * - seq = counter of the frames handed out (`seq`: a SeqCounter continuing across restarts via its
 *   state file, video/detect/detect-seq.ts; default: from 0). Frames the motion gate holds back are
 *   not handed out and take no seq: the tracker coasts over the time gap.
 * - Detections: cls "person", score, box in source pixels, attrs upper/lower {value, conf},
 *   oid unique per camera (video/detect/detect-frame.ts). Frames with nobody in them are handed
 *   out too (an empty frame tells the tracker nobody is there).
 * - One pass over each frame's pixels per consumer of them: the gate's grey grid, the letterbox
 *   into a (reused) input tensor, the colour samples of each box. The detector is created once by
 *   the caller and reused for every frame.
 * - Pipelined (`pipeline` > 0, the default): the model runs in a worker thread
 *   (video/detect/inference-worker.ts) with its own session of the detector's model and options,
 *   while this thread reads and letterboxes the next frames and post-processes, colours and hands
 *   out the previous ones. At most `pipeline` frames are in the worker; frames come out in order,
 *   with the same detections as unpipelined; an abort of `signal` hands out the frames already in
 *   the worker, then ends; the worker ends with the loop; a failed run ends the loop with its error.
 *   `pipeline: 0`: the detector's own session on this thread, one frame at a time.
 * - Stage timings and counters accumulate in `stats` (video/detect/detect-stats.ts) and come with
 *   each frame.
 */
import type { Logger } from "pino";
import type { DetectionFrame } from "../../contracts/detection.ts";
import type { Detector } from "../../models/detector.ts";
import { contractDetections } from "./detect-frame.ts";
import { InferenceWorker, type InferenceResult } from "./inference-worker.ts";
import type { LetterboxTransform } from "../../models/letterbox.ts";
import type { Detection as RawDetection } from "../../models/nms.ts";
import { sourceFrames, type DetectSource, type SourceSampling, type TimelineFrame } from "./detect-source.ts";
import { DetectStats, type Stage } from "./detect-stats.ts";
import type { SourceInfo } from "./frame-sampler.ts";
import type { MotionGate } from "./motion-gate.ts";

/** Where seq numbers come from (video/detect/detect-seq.ts SeqCounter, or a plain counter). */
export interface SeqSource {
  take(): number | Promise<number>;
}

export interface DetectLoopOptions extends SourceSampling {
  /** camera id (goes into every oid) */
  camera: string;
  source: DetectSource;
  /** created once by the caller, reused for every frame */
  detector: Detector;
  /** epoch ms of timeline 0 (the source's pts 0); default: the wall clock when the loop starts */
  startMs?: number;
  /** frames it holds back are not handed out */
  gate?: MotionGate;
  /** default: 0, 1, 2, ... */
  seq?: SeqSource;
  /** ffprobe result of the source, if the caller has it */
  info?: SourceInfo;
  signal?: AbortSignal;
  /** wall clock, epoch ms (default Date.now) */
  clock?: () => number;
  log?: Logger;
  /** where counters and timings accumulate (default: a new one, see DetectedFrame.stats) */
  stats?: DetectStats;
  /** called for each sampled frame the gate holds back */
  onHeld?: (f: TimelineFrame, stats: DetectStats) => void;
  /** called for every sampled frame with its frame_ts, before the gate (the camera's stills are made from these) */
  onSampled?: (f: TimelineFrame, frameTs: number) => void;
  /**
   * frames in flight in the inference worker thread (default DEFAULT_PIPELINE_DEPTH); 0: no
   * worker, every frame goes through the detector on this thread before the next one is read
   */
  pipeline?: number;
}

/** frames in flight in the inference worker: one in session.run, one pre-processed and waiting */
export const DEFAULT_PIPELINE_DEPTH = 2;

export interface DetectedFrame {
  /** the contract message (frame_ts epoch ms) */
  frame: DetectionFrame;
  /** index of the frame among the sampled frames of its pass (gaps where the gate held frames back) */
  index: number;
  /** number of the frame in the source (of its pass: the file, or the connection of a stream) */
  sourceIndex: number;
  pass: number;
  /** seconds on the run's timeline (the frame's pts for a single pass over a file) */
  t: number;
  width: number;
  height: number;
  /** this frame's ms per stage */
  timings: Record<Stage, number>;
  /** the run's counters and sums so far */
  stats: DetectStats;
}

/** plain counter from `first` */
export function countFrom(first = 0): SeqSource {
  let next = first;
  return { take: () => next++ };
}

/** DetectionFrames of the source until it ends, `signal` aborts or the consumer stops. */
export async function* detectFrames(o: DetectLoopOptions): AsyncGenerator<DetectedFrame, void, undefined> {
  const clock = o.clock ?? Date.now;
  const stats = o.stats ?? new DetectStats();
  const seq = o.seq ?? countFrom(0);
  const startMs = o.startMs ?? clock();
  const className = (cls: number) => o.detector.className(cls);
  const depth = o.pipeline ?? DEFAULT_PIPELINE_DEPTH;
  if (!(Number.isInteger(depth) && depth >= 0)) throw new Error(`pipeline must be a whole number >= 0, got ${depth}`);
  let lastFrameTs = Number.NEGATIVE_INFINITY;

  // `signal`, or the pipelined loop stopping early (the consumer stopped, or a failure)
  const stopSource = new AbortController();
  const frames = sourceFrames({
    source: o.source,
    ...(o.info ? { info: o.info } : {}),
    signal: o.signal ? AbortSignal.any([o.signal, stopSource.signal]) : stopSource.signal,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.fps !== undefined ? { fps: o.fps } : {}),
    ...(o.every !== undefined ? { every: o.every } : {}),
    ...(o.startS !== undefined ? { startS: o.startS } : {}),
    ...(o.durationS !== undefined ? { durationS: o.durationS } : {}),
    ...(o.maxFrames !== undefined ? { maxFrames: o.maxFrames } : {}),
    onPass: () => { stats.passes++; },
  });

  /** a sampled frame through the gate: undefined when the gate holds it back */
  const admit = (f: TimelineFrame): Admitted | undefined => {
    stats.sampled++;
    stats.add("decode", f.decodeMs);
    const frameTs = Math.max(startMs + Math.round(f.t * 1000), lastFrameTs + 1);
    lastFrameTs = frameTs;
    stats.lastFrameTs = frameTs;
    o.onSampled?.(f, frameTs);

    const tGate = performance.now();
    const pass = o.gate ? o.gate.check(f.rgb, f.width, f.height).pass : true;
    const gateMs = performance.now() - tGate;
    stats.add("gate", gateMs);
    if (!pass) {
      stats.held++;
      o.onHeld?.(f, stats);
      return undefined;
    }
    return { f, frameTs, gateMs };
  };

  /** the detector's result of an admitted frame -> the frame handed out (takes its seq) */
  const finish = async (a: Admitted, raw: RawDetection[], t: { pre: number; infer: number; post: number }): Promise<DetectedFrame> => {
    const { f, frameTs } = a;
    const s = await seq.take();
    const tCol = performance.now();
    const detections = contractDetections(o.camera, s, frameTs, raw, f, className);
    const coloursMs = performance.now() - tCol;
    stats.add("pre", t.pre);
    stats.add("infer", t.infer);
    stats.add("post", t.post);
    stats.add("colours", coloursMs);
    stats.processed++;
    stats.detections += detections.length;
    return {
      frame: { frame_ts: frameTs, seq: s, detections },
      index: f.index, sourceIndex: f.sourceIndex, pass: f.pass, t: f.t, width: f.width, height: f.height,
      timings: { decode: f.decodeMs, gate: a.gateMs, pre: t.pre, infer: t.infer, post: t.post, colours: coloursMs },
      stats,
    };
  };

  if (depth === 0) {
    for await (const f of frames) {
      const a = admit(f);
      if (!a) continue;
      const { detections: raw, timings } = await o.detector.detect(f.rgb, f.width, f.height);
      yield await finish(a, raw, { pre: timings.pre, infer: timings.infer, post: timings.decode + timings.post });
    }
    return;
  }

  // Pipelined: the model runs in a worker thread, fed by a producer on this thread that reads the
  // source, gates and letterboxes each frame into one of `depth` input buffers and sends it to the
  // worker; the consumer (this generator) takes the results in order, post-processes and colours
  // them and hands them out. So while the model runs frame N, frame N+1 is pre-processed and frame
  // N-1 post-processed. An input buffer is free again when the consumer takes its frame's result:
  // at most `depth` frames in the worker (plus one read from the source, waiting for a buffer),
  // whatever the consumer's pace (back-pressure).
  const worker = await InferenceWorker.start(o.detector, o.log);
  const free: Float32Array[] = Array.from({ length: depth }, () => new Float32Array(o.detector.inputSize));
  const inFlight: InFlight[] = [];
  let producing = true;
  let producerError: unknown;
  let stopping = false;
  let wakeProducer: (() => void) | undefined; // waiting for a free buffer
  let wakeConsumer: (() => void) | undefined; // waiting for a frame in flight or the producer's end
  const wake = (w: (() => void) | undefined) => w?.();

  const producer = (async () => {
    try {
      for await (const f of frames) {
        if (stopping) break;
        const admitted = admit(f);
        if (!admitted) continue;
        while (free.length === 0 && !stopping) await new Promise<void>((r) => { wakeProducer = r; });
        if (stopping) break;
        const input = free.pop()!;
        const t0 = performance.now();
        const transform = o.detector.preprocess(f.rgb, f.width, f.height, input);
        const preMs = performance.now() - t0;
        const result = worker.run(input);
        result.catch(() => {}); // awaited in order by the consumer
        inFlight.push({ admitted, transform, preMs, result });
        wake(wakeConsumer);
      }
    } catch (err) {
      if (!stopping) producerError = err;
    } finally {
      producing = false;
      wake(wakeConsumer);
    }
  })();

  try {
    for (;;) {
      while (inFlight.length === 0 && producing) await new Promise<void>((r) => { wakeConsumer = r; });
      const h = inFlight.shift();
      if (!h) {
        if (producerError !== undefined) throw producerError;
        break; // the source ended or `signal` aborted, and every frame in flight has been handed out
      }
      const r = await h.result;
      free.push(r.input);
      wake(wakeProducer);
      const { f } = h.admitted;
      const { detections: raw, decode, post } = o.detector.postprocess(r.outputs, h.transform, f.width, f.height);
      yield await finish(h.admitted, raw, { pre: h.preMs, infer: r.inferMs, post: decode + post });
    }
  } finally {
    // the end, the consumer stopping, or a failure: stop the producer (and its ffmpeg), then the worker
    stopping = true;
    stopSource.abort();
    wake(wakeProducer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([producer, new Promise<void>((r) => { timer = setTimeout(r, 2000); })]);
    clearTimeout(timer);
    await worker.close();
  }
}

interface Admitted {
  f: TimelineFrame;
  frameTs: number;
  gateMs: number;
}

interface InFlight {
  admitted: Admitted;
  transform: LetterboxTransform;
  preMs: number;
  result: Promise<InferenceResult>;
}
