/**
 * `footfall detect <video or image file | URL>`: runs the person detector and the garment colour
 * attributes over sampled frames and prints one JSON line per processed frame on stdout:
 *
 *   {"frame": 6, "sampled": 3, "ts": 0.6, "detections": [{"box": [x1, y1, x2, y2], "score": 0.812,
 *     "attrs": {"upper": {"value": "red", "conf": 0.74}, "lower": {"value": "blue", "conf": 0.9}}}]}
 *
 * `frame` is the frame's number in the source (0 = its first frame; video/detect/frame-sampler.ts),
 * `sampled` its index among the sampled frames (with the motion gate on, frames it holds back are
 * not printed, so both may jump), `ts` its time in seconds from the source start (its pts), boxes
 * in source pixels rounded to 0.1 px, scores to 0.001, confidences to 0.01. The score threshold
 * defaults to the camera's (models/detector-defaults.ts).
 * Frames: `--fps n` per second of source time (default 5) or `--every n` (every n-th source frame).
 * A progress bar goes to stderr when stderr is a terminal, and a one-line summary with the time
 * per stage goes to stderr at the end; stdout carries the JSON lines only.
 * Exit codes: 0 done, 1 failure while running, 2 bad option or unreadable input.
 * The pipeline is the camera agent's detection loop (video/detect/detect-loop.ts), the same code
 * that publishes frames over MQTT (video/detect/main.ts); boxes less than 1 px wide or high
 * (a detection in the letterbox padding) are left out, as the camera event contract requires.
 */
import { existsSync, statSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { DEFAULT_SCORE } from "../../models/detector-defaults.ts";
import { r3 } from "../../video/detect/detect-frame.ts";
import { detectFrames } from "../../video/detect/detect-loop.ts";
import type { DetectSource } from "../../video/detect/detect-source.ts";
import { DetectStats } from "../../video/detect/detect-stats.ts";
import { MotionGate } from "../../video/detect/motion-gate.ts";
import { probeSource, type SourceInfo } from "../../video/detect/frame-sampler.ts";
import { abortOnSignal } from "../process.ts";
import { Detector } from "../../models/detector.ts";

/** the options as commander hands them over (strings) */
export interface DetectCliOptions {
  fps?: string;
  every?: string;
  threads?: string;
  score?: string;
  maxFrames?: string;
  duration?: string;
  start?: string;
  motion?: string | boolean;
  maxSkip?: string;
  progress?: boolean;
}

export interface DetectSettings {
  source: string;
  fps?: number;
  every?: number;
  threads: number;
  score: number;
  maxFrames?: number;
  durationS?: number;
  startS?: number;
  motion?: { threshold: number; maxSkip: number };
  progress: boolean;
}

export class UsageError extends Error {}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

function num(name: string, raw: string | undefined, check: { integer?: boolean; min?: number; max?: number; minExclusive?: boolean }): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const bad =
    raw.trim() === "" || !Number.isFinite(v) ||
    (check.integer && !Number.isInteger(v)) ||
    (check.min !== undefined && (check.minExclusive ? v <= check.min : v < check.min)) ||
    (check.max !== undefined && v > check.max);
  if (bad) {
    const kind = check.integer ? "an integer" : "a number";
    const range = check.min !== undefined ? ` ${check.minExclusive ? ">" : "≥"} ${check.min}` : "";
    const upper = check.max !== undefined ? ` and ≤ ${check.max}` : "";
    throw new UsageError(`--${name} must be ${kind}${range}${upper}, got "${raw}"`);
  }
  return v;
}

/** Checks the options and the input file; throws UsageError with a message for the user. */
export function parseDetectOptions(source: string, o: DetectCliOptions): DetectSettings {
  if (o.fps !== undefined && o.every !== undefined) throw new UsageError("give either --fps or --every, not both");
  const fps = num("fps", o.fps, { min: 0, minExclusive: true, max: 1000 });
  const every = num("every", o.every, { integer: true, min: 1 });
  const threads = num("threads", o.threads, { integer: true, min: 1, max: 64 }) ?? 2;
  const score = num("score", o.score, { min: 0, max: 1 }) ?? DEFAULT_SCORE;
  const maxFrames = num("max-frames", o.maxFrames, { integer: true, min: 1 });
  const durationS = num("duration", o.duration, { min: 0, minExclusive: true });
  const startS = num("start", o.start, { min: 0 });
  const maxSkip = num("max-skip", o.maxSkip, { integer: true, min: 0 }) ?? 10;
  let motion: DetectSettings["motion"];
  if (o.motion !== undefined && o.motion !== false) {
    const threshold = o.motion === true ? 0.005 : num("motion", o.motion, { min: 0, max: 1 })!;
    motion = { threshold, maxSkip };
  } else if (o.maxSkip !== undefined) {
    throw new UsageError("--max-skip needs --motion");
  }
  if (!isUrl(source)) {
    if (!existsSync(source)) throw new UsageError(`no such file: ${source}`);
    if (!statSync(source).isFile()) throw new UsageError(`not a file: ${source}`);
  }
  return {
    source, threads, score, progress: o.progress !== false,
    ...(every !== undefined ? { every } : { fps: fps ?? 5 }),
    ...(maxFrames !== undefined ? { maxFrames } : {}),
    ...(durationS !== undefined ? { durationS } : {}),
    ...(startS !== undefined ? { startS } : {}),
    ...(motion ? { motion } : {}),
  };
}

/** expected number of sampled frames, for the progress bar (undefined if unknown) */
function expectedFrames(s: DetectSettings, info: SourceInfo): number | undefined {
  const total = info.durationS !== undefined ? Math.max(0, info.durationS - (s.startS ?? 0)) : undefined;
  const span = s.durationS !== undefined ? Math.min(s.durationS, total ?? Infinity) : total;
  let n: number | undefined;
  if (span !== undefined && Number.isFinite(span)) {
    if (s.every !== undefined) n = info.fps !== undefined ? Math.ceil((span * info.fps) / s.every) : undefined;
    else n = Math.max(1, Math.ceil(span * Math.min(s.fps ?? 5, info.fps ?? Infinity))); // never more than the source has
  }
  if (info.still) n = 1;
  if (s.maxFrames !== undefined) n = n === undefined ? s.maxFrames : Math.min(n, s.maxFrames);
  return n;
}

/** writes one line to stdout, waiting when the pipe is full; false when stdout has gone away */
function writeLine(line: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.stdout.destroyed || !process.stdout.writable) return resolve(false);
    if (process.stdout.write(line + "\n")) return resolve(true);
    const done = (ok: boolean) => {
      process.stdout.off("drain", onDrain);
      process.stdout.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    process.stdout.once("drain", onDrain);
    process.stdout.once("close", onClose);
  });
}

/** Runs the command; returns the exit code. */
export async function runDetect(source: string, o: DetectCliOptions): Promise<number> {
  let s: DetectSettings;
  let info: SourceInfo;
  try {
    s = parseDetectOptions(source, o);
    info = await probeSource(s.source).catch((e: Error) => { throw new UsageError(e.message); });
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`footfall detect: ${e.message}`);
      return 2;
    }
    throw e;
  }

  const abort = abortOnSignal();
  // a closed stdout (e.g. `| head`) stops the run quietly
  process.stdout.on("error", (e: NodeJS.ErrnoException) => { if (e.code === "EPIPE") abort.abort(); });

  const detector = await Detector.create({ intraOpNumThreads: s.threads, scoreThreshold: s.score });
  const gate = s.motion ? new MotionGate({ threshold: s.motion.threshold, maxSkip: s.motion.maxSkip }) : undefined;
  const total = expectedFrames(s, info);
  const bar = s.progress && process.stderr.isTTY
    ? new SingleBar({
        stream: process.stderr,
        format: "detect |{bar}| {value}/{total} frames | {rate} fps | {persons} persons",
        hideCursor: true,
        clearOnComplete: false,
      })
    : undefined;
  bar?.start(total ?? 0, 0, { rate: "-", persons: 0 });
  const stats = new DetectStats();
  const progress = () => bar?.update(stats.sampled, { rate: (stats.sampled / Math.max(stats.wallS, 1e-9)).toFixed(1), persons: stats.detections });

  // the shared detection loop (video/detect/detect-loop.ts); a URL is read once, not reconnected
  const input: DetectSource = isUrl(s.source) ? { kind: "url", url: s.source } : { kind: "file", path: s.source };
  try {
    for await (const f of detectFrames({
      camera: "cli", source: input, detector, info, stats, signal: abort.signal,
      ...(gate ? { gate } : {}),
      ...(s.fps !== undefined ? { fps: s.fps } : {}),
      ...(s.every !== undefined ? { every: s.every } : {}),
      ...(s.maxFrames !== undefined ? { maxFrames: s.maxFrames } : {}),
      ...(s.durationS !== undefined ? { durationS: s.durationS } : {}),
      ...(s.startS !== undefined ? { startS: s.startS } : {}),
      onHeld: progress,
    })) {
      const out = f.frame.detections.map((d) => ({ box: d.box, score: d.score, attrs: d.attrs }));
      const ok = await writeLine(JSON.stringify({ frame: f.sourceIndex, sampled: f.index, ts: r3(f.t), detections: out }));
      progress();
      if (!ok) abort.abort();
      if (abort.signal.aborted) break;
    }
  } catch (e) {
    bar?.stop();
    console.error(`footfall detect: ${(e as Error).message}`);
    await detector.close();
    return 1;
  }
  bar?.stop();
  await detector.close();
  const wall = stats.wallS;
  const per = (v: number, n: number) => (n > 0 ? v.toFixed(1) : "-");
  console.error(
    `footfall detect: ${stats.processed} frames processed of ${stats.sampled} sampled, ${stats.detections} detections, ` +
      `${wall.toFixed(1)} s, ${(stats.processed / Math.max(wall, 1e-9)).toFixed(1)} processed frames/s; ms per frame: ` +
      `sample ${per(stats.mean("decode"), stats.sampled)}, detect ${per(stats.detectMean, stats.processed)}, colours ${per(stats.mean("colours"), stats.processed)}` +
      ` (threads ${s.threads})`,
  );
  return 0;
}
