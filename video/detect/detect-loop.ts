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
 *   into the detector's (reused) input tensor, the colour samples of each box. The detector and its
 *   ONNX session are created once by the caller and reused for every frame.
 * - Stage timings and counters accumulate in `stats` (video/detect/detect-stats.ts) and come with
 *   each frame.
 */
import type { Logger } from "pino";
import type { DetectionFrame } from "../../contracts/detection.ts";
import type { Detector } from "../../models/detector.ts";
import { contractDetections } from "./detect-frame.ts";
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
}

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
  let lastFrameTs = Number.NEGATIVE_INFINITY;

  const frames = sourceFrames({
    source: o.source,
    ...(o.info ? { info: o.info } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.fps !== undefined ? { fps: o.fps } : {}),
    ...(o.every !== undefined ? { every: o.every } : {}),
    ...(o.startS !== undefined ? { startS: o.startS } : {}),
    ...(o.durationS !== undefined ? { durationS: o.durationS } : {}),
    ...(o.maxFrames !== undefined ? { maxFrames: o.maxFrames } : {}),
    onPass: () => { stats.passes++; },
  });

  for await (const f of frames) {
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
      continue;
    }

    const { detections: raw, timings } = await o.detector.detect(f.rgb, f.width, f.height);
    const s = await seq.take();
    const tCol = performance.now();
    const detections = contractDetections(o.camera, s, frameTs, raw, f, className);
    const coloursMs = performance.now() - tCol;
    const post = timings.decode + timings.post;
    stats.add("pre", timings.pre);
    stats.add("infer", timings.infer);
    stats.add("post", post);
    stats.add("colours", coloursMs);
    stats.processed++;
    stats.detections += detections.length;
    yield {
      frame: { frame_ts: frameTs, seq: s, detections },
      index: f.index, sourceIndex: f.sourceIndex, pass: f.pass, t: f.t, width: f.width, height: f.height,
      timings: { decode: f.decodeMs, gate: gateMs, pre: timings.pre, infer: timings.infer, post, colours: coloursMs },
      stats,
    };
  }
}
