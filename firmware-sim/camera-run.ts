import { setTimeout as sleep } from "node:timers/promises";
import type { DetectionFrameIn } from "../contracts/detection.ts";
import { waitOnline } from "./firmware-online.ts";
import { createLogger, type Logger } from "../infra/log.ts";
import { CameraUplink } from "../video/agent/camera-uplink.ts";
import type { CameraMallPlan } from "./camera-mall-plan.ts";
import { DEFAULT_FAULTS, SimulatedDetector, type CameraFaults, type PersonInView } from "./camera-detector.ts";
import { EmbeddingModel } from "./camera-embedding.ts";
import { MinHeap } from "./min-heap.ts";
import { CameraTruth } from "./camera-truth.ts";
import { simulateCameraWalkers, WalkerCursor, type CameraWalker, type WalkBehaviour } from "./camera-walkers.ts";
import { chance, deriveSeed, mulberry32, uniform, type Rng } from "./random.ts";

/**
 * Runs the camera mall: walkers move, every camera renders a frame every 1/fps s of simulated
 * time (each camera at its own phase), the detectors make their mistakes, the uplinks duplicate
 * some frames and hold some batches back; the frames come out in publish order, and the ground
 * truth is recorded as they are rendered. `cameraFrameStream` generates lazily (large runs),
 * `simulateCameraFrames` collects everything (tests), `runCameraSim` publishes over MQTT.
 * Everything is deterministic for a seed (same frames, same oids, same publish order).
 */

export interface CameraSimOptions {
  plan: CameraMallPlan;
  /** how many walkers arrive during the run, or the walkers themselves */
  walkers: number | CameraWalker[];
  durationMs: number;
  /** epoch ms of simulated time zero */
  startTs: number;
  seed: number;
  /** frames per second of every camera (default 5) */
  fps?: number;
  faults?: Partial<CameraFaults>;
  /** the cameras also send re-ID embeddings of this many dimensions (camera-embedding.ts; default 0 = none) */
  embeddingDims?: number;
  walk?: Partial<WalkBehaviour>;
  /** walkers arrive in [startTs, startTs + arrivalWindowMs) (default durationMs) */
  arrivalWindowMs?: number;
  /** only these cameras of the plan (default all) */
  cameras?: string[];
}

/** One message of a camera's uplink, in publish order. */
export interface SimFrame {
  camera: string;
  seq: number;
  frameTs: number;
  frame: DetectionFrameIn;
  /** the exact bytes published (a duplicate carries the same string) */
  payload: string;
  /** simulated instant the uplink sends it (epoch ms) */
  publishAt: number;
  /** a second copy of a frame already sent */
  duplicate: boolean;
  /** part of a held-back batch */
  late: boolean;
}

export interface CameraSimCounters {
  /** frames rendered (each sent at least once) */
  frames: number;
  /** detections in rendered frames (true and false) */
  detections: number;
  falsePositives: number;
  /** visible, unoccluded people not detected */
  missed: number;
  /** visible people hidden behind nearer ones */
  occluded: number;
  /** (camera frame, person) pairs in view */
  visible: number;
  duplicatesSent: number;
  lateBatches: number;
  lateFrames: number;
}

export interface CameraFrameStream {
  truth: CameraTruth;
  counters: CameraSimCounters;
  /** frames that will be rendered (duplicates not included) */
  totalFrames: number;
  /** messages in publish order, generated as iterated (iterate once) */
  frames: Generator<SimFrame, void, undefined>;
}

/** Frame k of a camera with phase `phase`: capture instant. */
const frameTsOf = (startTs: number, phase: number, fps: number, k: number) => startTs + phase + Math.round((k * 1000) / fps);

/** Pending sends ordered by (publishAt, insertion). */
class SendQueue {
  private readonly heap = new MinHeap<{ at: number; n: number; f: SimFrame }>((a, b) => a.at < b.at || (a.at === b.at && a.n < b.n));
  private n = 0;
  get size(): number { return this.heap.size; }
  peekAt(): number { return this.heap.peek()?.at ?? Infinity; }
  push(f: SimFrame): void { this.heap.push({ at: f.publishAt, n: this.n++, f }); }
  pop(): SimFrame | undefined { return this.heap.pop()?.f; }
}

interface CameraState {
  id: string;
  phase: number;
  detector: SimulatedDetector;
  /** uplink faults */
  rng: Rng;
  held: SimFrame[];
  holdLeft: number;
  holdFirstTs: number;
  /** no new held-back batch before this instant (the previous one must have gone out) */
  noHoldBefore: number;
}

/** Lazily renders and orders the frames of a run (see the module comment). */
export function cameraFrameStream(opts: CameraSimOptions): CameraFrameStream {
  const fps = opts.fps ?? 5;
  if (!(fps > 0 && fps <= 60)) throw new RangeError("fps must be in (0, 60]");
  if (!(opts.durationMs > 0)) throw new RangeError("durationMs must be positive");
  const faults: CameraFaults = { ...DEFAULT_FAULTS, ...opts.faults };
  const embeddings = opts.embeddingDims ? new EmbeddingModel(deriveSeed(opts.seed, "embeddings"), opts.embeddingDims) : undefined;
  const endTs = opts.startTs + opts.durationMs;
  const walkers = typeof opts.walkers === "number"
    ? simulateCameraWalkers({ plan: opts.plan, walkers: opts.walkers, startTs: opts.startTs, durationMs: opts.durationMs, seed: opts.seed, arrivalWindowMs: opts.arrivalWindowMs, ...opts.walk })
    : [...opts.walkers].sort((a, b) => a.enterTs - b.enterTs);
  const truth = new CameraTruth(opts.plan, walkers, opts.startTs, endTs);
  const wanted = opts.cameras ? new Set(opts.cameras) : undefined;
  const period = 1000 / fps;
  const cams: CameraState[] = opts.plan.cameras.filter((c) => !wanted || wanted.has(c.id)).map((c) => {
    const phase = Math.floor(mulberry32(deriveSeed(opts.seed, `phase:${c.id}`))() * period);
    const oidPrefix = deriveSeed(opts.seed, `oid:${c.id}`).toString(36);
    return {
      id: c.id, phase,
      detector: new SimulatedDetector(c, faults, mulberry32(deriveSeed(opts.seed, `detector:${c.id}`)), oidPrefix, embeddings),
      rng: mulberry32(deriveSeed(opts.seed, `uplink:${c.id}`)),
      held: [], holdLeft: 0, holdFirstTs: 0, noHoldBefore: -Infinity,
    };
  }).sort((a, b) => a.phase - b.phase || (a.id < b.id ? -1 : 1));
  if (wanted) for (const id of wanted) if (!cams.some((c) => c.id === id)) throw new RangeError(`camera "${id}" is not in the plan`);
  const framesPerCamera = cams.map((c) => {
    let k = 0;
    while (frameTsOf(opts.startTs, c.phase, fps, k) < endTs) k++;
    return k;
  });
  const totalFrames = framesPerCamera.reduce((a, b) => a + b, 0);
  const counters: CameraSimCounters = {
    frames: 0, detections: 0, falsePositives: 0, missed: 0, occluded: 0, visible: 0, duplicatesSent: 0, lateBatches: 0, lateFrames: 0,
  };
  // the frame after a held batch must go out before it, and the batch at most maxLateMs after its first frame
  const maxHold = Math.max(0, Math.floor((faults.maxLateMs - 2) / period));

  function* generate(): Generator<SimFrame, void, undefined> {
    const queue = new SendQueue();
    const cursor = new WalkerCursor(walkers);
    const active: number[] = [];
    let nextArrival = 0;
    const send = (c: CameraState, f: SimFrame) => {
      queue.push(f);
      if (chance(c.rng, faults.duplicateRate)) {
        counters.duplicatesSent++;
        queue.push({ ...f, duplicate: true, publishAt: f.publishAt + Math.floor(uniform(c.rng, 0, 1000)) });
      }
    };
    const release = (c: CameraState, at: number) => {
      counters.lateBatches++;
      counters.lateFrames += c.held.length;
      for (const f of c.held) send(c, { ...f, publishAt: at, late: true });
      c.held = [];
      c.noHoldBefore = at;
    };
    const maxK = Math.max(0, ...framesPerCamera);
    const people: PersonInView[] = [];
    for (let k = 0; k < maxK; k++) {
      for (let ci = 0; ci < cams.length; ci++) {
        if (k >= framesPerCamera[ci]!) continue;
        const c = cams[ci]!;
        const t = frameTsOf(opts.startTs, c.phase, fps, k);
        // who is in the mall at t
        while (nextArrival < walkers.length && walkers[nextArrival]!.enterTs <= t) active.push(nextArrival++);
        people.length = 0;
        let keep = 0;
        for (let i = 0; i < active.length; i++) {
          const wi = active[i]!;
          const w = walkers[wi]!;
          if (w.leaveTs < t) continue; // gone for good (t never decreases)
          active[keep++] = wi;
          const pos = cursor.at(wi, t);
          if (pos && c.detector.mayBeInView(pos.space, pos.x, pos.y)) {
            people.push({ id: w.id, x: pos.x, y: pos.y, heightM: w.heightM, upper: w.clothes.upper, lower: w.clothes.lower });
          }
        }
        active.length = keep;
        const out = c.detector.detect(people);
        truthFrame(c.id, k, t, out);
        const frame: DetectionFrameIn = { frame_ts: t, seq: k, detections: out.detections };
        const f: SimFrame = { camera: c.id, seq: k, frameTs: t, frame, payload: JSON.stringify(frame), publishAt: t, duplicate: false, late: false };
        // uplink: hold back a batch now and then, else send at once
        if (c.holdLeft > 0) {
          c.held.push(f);
          if (--c.holdLeft === 0) {
            const next = frameTsOf(opts.startTs, c.phase, fps, k + 1);
            release(c, Math.floor(uniform(c.rng, next + 1, Math.max(next + 1, c.holdFirstTs + faults.maxLateMs))));
          }
        } else if (maxHold >= 1 && t >= c.noHoldBefore && chance(c.rng, faults.lateBatchRate)) {
          const [lo, hi] = faults.lateBatchFrames;
          const n = Math.min(maxHold, lo + Math.floor(c.rng() * (hi - lo + 1)));
          c.held = [f];
          c.holdFirstTs = t;
          c.holdLeft = n - 1;
          if (c.holdLeft === 0) release(c, Math.floor(uniform(c.rng, frameTsOf(opts.startTs, c.phase, fps, k + 1) + 1, t + faults.maxLateMs)));
        } else {
          send(c, f);
        }
        while (queue.peekAt() <= t) yield queue.pop()!;
      }
    }
    // the run ended: batches still being held go out now, after everything else
    for (const c of cams) if (c.held.length > 0) release(c, endTs);
    while (queue.size > 0) yield queue.pop()!;
  }

  function truthFrame(camera: string, seq: number, frameTs: number, out: ReturnType<SimulatedDetector["detect"]>): void {
    counters.frames++;
    counters.detections += out.detections.length;
    counters.falsePositives += out.falsePositives;
    counters.missed += out.missed;
    counters.occluded += out.occluded.length;
    counters.visible += out.visible.length;
    truth.recordFrame({ camera, seq, frameTs, visible: out.visible, occluded: out.occluded, detections: out.truth });
  }

  return { truth, counters, totalFrames, frames: generate() };
}

/** Renders a whole run in memory: every message in publish order, the truth, the counters. */
export function simulateCameraFrames(opts: CameraSimOptions): { frames: SimFrame[]; truth: CameraTruth; counters: CameraSimCounters } {
  const stream = cameraFrameStream(opts);
  const frames = [...stream.frames];
  return { frames, truth: stream.truth, counters: stream.counters };
}

export interface CameraRunOptions extends CameraSimOptions {
  mqttUrl: string;
  /** PEM CA the broker's certificate must verify against (mqtts://) */
  mqttCa?: Buffer | string;
  /** device id -> secret, for every camera of the run */
  secrets: Record<string, string>;
  /** simulated ms per real ms; Infinity (default) = as fast as the broker acknowledges */
  speed?: number;
  /** frame messages awaiting their PUBACK at once, over all cameras (default 256) */
  maxInFlight?: number;
  /** simulated ms between status heartbeats of a camera (default 5000) */
  statusEveryMs?: number;
  /** frames acknowledged so far, of the frames rendered in the run */
  onProgress?: (done: number, total: number) => void;
  /** called with the run's ground truth before the first frame (it fills as frames are rendered) */
  onStart?: (truth: CameraTruth) => void;
  /** stops the run early (live demos); the cameras still announce "offline" */
  signal?: AbortSignal;
  log?: Logger;
}

export interface CameraRunResult {
  truth: CameraTruth;
  /** frames rendered (each acknowledged at least once) */
  frames: number;
  /** frame messages acknowledged, duplicates included */
  messages: number;
  detections: number;
  duplicatesSent: number;
  lateBatches: number;
  lateFrames: number;
  falsePositives: number;
  missed: number;
  occluded: number;
  statusSent: number;
  /** wall-clock duration of the publishing (ms) */
  realMs: number;
}

/**
 * Publishes a run over MQTT: one CameraUplink per camera, messages in publish order, paced to
 * `speed` (or as fast as acknowledgements come), at most maxInFlight unacknowledged frames,
 * heartbeats every statusEveryMs of simulated time. Resolves when every frame was acknowledged;
 * the cameras then announce "offline" and disconnect.
 */
export async function runCameraSim(opts: CameraRunOptions): Promise<CameraRunResult> {
  const log = opts.log ?? createLogger("camera-sim");
  const speed = opts.speed ?? Infinity;
  if (!(speed > 0)) throw new RangeError("speed must be positive");
  const fps = opts.fps ?? 5;
  const stream = cameraFrameStream(opts);
  opts.onStart?.(stream.truth);
  const cameras = opts.plan.cameras.filter((c) => !opts.cameras || opts.cameras.includes(c.id));
  const missing = cameras.filter((c) => typeof opts.secrets[c.id] !== "string").map((c) => c.id);
  if (missing.length > 0) throw new Error(`no secret for camera ${missing.join(", ")}`);
  const fws = new Map(cameras.map((c) => [c.id, new CameraUplink({
    url: opts.mqttUrl, ...(opts.mqttCa ? { ca: opts.mqttCa } : {}), deviceId: c.id, secret: opts.secrets[c.id]!, site: opts.plan.site,
    fps, width: c.pose.width, height: c.pose.height, log,
  })]));
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
  const statusEvery = Math.max(100, opts.statusEveryMs ?? 5000);
  log.info({ site: opts.plan.site, cameras: fws.size, frames: stream.totalFrames }, "camera simulation starting");
  const realStart = performance.now();
  try {
    await Promise.all([...fws.values()].map((f) => f.start()));
    await waitOnline([...fws.values()], 15_000, opts.mqttUrl);
    let done = 0;
    let messages = 0;
    const failures: Error[] = [];
    const open = new Set<Promise<void>>();
    let nextStatus = opts.startTs;
    const heartbeats = (upTo: number) => {
      while (nextStatus <= upTo) {
        for (const fw of fws.values()) fw.publishStatus(fw.heartbeat(nextStatus, (nextStatus - opts.startTs) / 1000));
        nextStatus += statusEvery;
      }
    };
    for (const m of stream.frames) {
      if (opts.signal?.aborted) break;
      if (Number.isFinite(speed)) {
        const wait = realStart + (m.publishAt - opts.startTs) / speed - performance.now();
        if (wait > 0) await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(() => {});
        if (opts.signal?.aborted) break;
      }
      heartbeats(Math.min(m.publishAt, opts.startTs + opts.durationMs - 1)); // while the run lasts
      while (open.size >= maxInFlight) await Promise.race(open);
      if (failures.length > 0) break;
      const p = fws.get(m.camera)!.publishFrame(m.payload).then(() => {
        messages++;
        if (!m.duplicate) {
          done++;
          try { opts.onProgress?.(done, stream.totalFrames); } catch (e) { log.warn({ err: e }, "onProgress threw"); }
        }
      }, (e: Error) => { failures.push(e); }).finally(() => open.delete(p));
      open.add(p);
    }
    await Promise.all(open);
    if (failures.length > 0) throw new Error(`${failures.length} frame(s) could not be published: ${failures[0]!.message}`);
    const c = stream.counters;
    const result: CameraRunResult = {
      truth: stream.truth, frames: c.frames, messages, detections: c.detections, duplicatesSent: c.duplicatesSent,
      lateBatches: c.lateBatches, lateFrames: c.lateFrames, falsePositives: c.falsePositives, missed: c.missed, occluded: c.occluded,
      statusSent: [...fws.values()].reduce((n, f) => n + f.counters.statusSent, 0), realMs: performance.now() - realStart,
    };
    log.info({ site: opts.plan.site, frames: result.frames, messages, detections: result.detections, realMs: Math.round(result.realMs) }, "camera simulation done");
    return result;
  } finally {
    await Promise.all([...fws.values()].map((f) => f.stop({ announceOffline: true })));
  }
}
