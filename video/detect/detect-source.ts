/**
 * The detection loop's video source: decoded RGB frames (video/detect/frame-sampler.ts) placed on
 * the run's timeline, for the three kinds of source a camera agent reads:
 *
 *   file, fast       as fast as the detector takes frames (tests, demos, back-filling a recording);
 *                    t = the frame's pts
 *   file, realtime   paced like a camera: frame k is handed out at (wall time of the first frame)
 *                    + (t_k − t_0); a slow consumer is never made to catch up by skipping frames
 *   file, loop       (either pace) the file again and again; each pass continues the timeline
 *                    where the last ended (pass length = the file's duration after `startS`, or
 *                    `durationS` when shorter), so t keeps growing
 *   url              a live stream (rtsp://, http://, ...); each connection is anchored on the
 *                    wall time its first frame arrived: t = (that time − run start) + (pts − first
 *                    pts). With `reconnect`, a stream that ends or fails is opened again after a
 *                    pause (1 s, doubling up to 10 s, reset by a frame); the footage in between
 *                    is missing, and t jumps by the time it was down.
 *
 * `t` is in seconds; the loop turns it into frame_ts = startMs + t·1000. The next frame is read
 * ahead while the consumer works on the current one (ffmpeg decodes in its own process, so decoding
 * overlaps inference). Each frame carries `decodeMs`: the time the consumer waited for it (not the
 * pacing sleep).
 * Sampling options (fps / every / startS / durationS / maxFrames) apply to each pass.
 */
import type { Logger } from "pino";
import { sleep } from "../../infra/backoff.ts";
import { probeSource, sampleFrames, type SampledFrame, type SourceInfo } from "./frame-sampler.ts";

export type DetectSource =
  | { kind: "file"; path: string; pace?: "fast" | "realtime"; loop?: boolean }
  | { kind: "url"; url: string; reconnect?: boolean };

export interface SourceSampling {
  /** frames per second of source time (default 5); ignored when `every` is set */
  fps?: number;
  /** every n-th source frame instead of a rate */
  every?: number;
  /** start this many seconds into the source (input seek) */
  startS?: number;
  /** read at most this many seconds of source time (per pass) */
  durationS?: number;
  /** at most this many sampled frames (per pass) */
  maxFrames?: number;
}

export interface TimelineFrame extends SampledFrame {
  /** seconds on the run's timeline (see the file header) */
  t: number;
  /** 0 for the first pass / connection */
  pass: number;
  /** ms spent waiting for this frame from the sampler */
  decodeMs: number;
}

export interface SourceFramesOptions extends SourceSampling {
  source: DetectSource;
  /** ffprobe result of the source, if the caller has it (used for every pass of a file) */
  info?: SourceInfo;
  signal?: AbortSignal;
  /** wall clock, epoch ms (default Date.now) */
  clock?: () => number;
  log?: Logger;
  /** called when a pass or connection starts (before its first frame) */
  onPass?: (pass: number) => void;
}

/** `source` as the string ffmpeg opens */
export const sourceLocation = (s: DetectSource): string => (s.kind === "file" ? s.path : s.url);

/** Frames of `opts.source` on the run's timeline, until the source ends or `signal` aborts. */
export async function* sourceFrames(opts: SourceFramesOptions): AsyncGenerator<TimelineFrame, void, undefined> {
  const clock = opts.clock ?? Date.now;
  const { source, signal } = opts;
  const location = sourceLocation(source);
  const runStart = clock();
  const sampling = {
    ...(opts.fps !== undefined ? { fps: opts.fps } : {}),
    ...(opts.every !== undefined ? { every: opts.every } : {}),
    ...(opts.startS !== undefined ? { startS: opts.startS } : {}),
    ...(opts.durationS !== undefined ? { durationS: opts.durationS } : {}),
    ...(opts.maxFrames !== undefined ? { maxFrames: opts.maxFrames } : {}),
  };
  const realtime = source.kind === "file" && source.pace === "realtime";
  let info = opts.info;
  let offset = 0; // seconds added to the pass's pts
  let lastT = Number.NEGATIVE_INFINITY;
  let paceBase: number | undefined; // wall ms of timeline 0 for realtime pacing
  let backoff = 1000;

  for (let pass = 0; !signal?.aborted; pass++) {
    opts.onPass?.(pass);
    let firstTs: number | undefined;
    let lastTs: number | undefined;
    let frames = 0;
    let failure: Error | undefined;
    try {
      if (!info) info = await probeSource(location, signal);
      // the pass's own stop: ends a read-ahead still waiting for a frame when the consumer stops
      const passStop = new AbortController();
      const stop = signal ? AbortSignal.any([signal, passStop.signal]) : passStop.signal;
      const it = sampleFrames({ source: location, info, signal: stop, ...sampling });
      // read-ahead of one frame: ffmpeg decodes frame k+1 while the consumer works on frame k
      let ahead = it.next();
      try {
        for (;;) {
          const t0 = performance.now();
          const next = await ahead;
          const decodeMs = performance.now() - t0;
          if (next.done) break;
          ahead = it.next();
          ahead.catch(() => {}); // a failure surfaces when awaited above
          const f = next.value;
          if (firstTs === undefined) {
            firstTs = f.ts;
            // a live connection is anchored on the arrival of its first frame
            if (source.kind === "url") offset = Math.max((clock() - runStart) / 1000 - f.ts, lastT - f.ts + 0.001);
            backoff = 1000;
          }
          lastTs = f.ts;
          frames++;
          const t = f.ts + offset;
          if (realtime) {
            paceBase ??= clock() - t * 1000;
            await sleep(paceBase + t * 1000 - clock(), signal);
            if (signal?.aborted) return;
          }
          lastT = t;
          yield { ...f, t, pass, decodeMs };
        }
      } finally {
        // the consumer stopped, abort, or the end: the sampler stops its ffmpeg
        passStop.abort();
        await ahead.catch(() => undefined);
        await it.return(undefined);
      }
    } catch (e) {
      if (source.kind === "file" || !source.reconnect) throw e;
      failure = e as Error;
    }
    if (signal?.aborted) return;
    if (source.kind === "file") {
      if (!source.loop) return;
      if (frames === 0 || firstTs === undefined || lastTs === undefined) {
        opts.log?.warn({ source: location, pass }, "a pass over the file gave no frame: not looping");
        return;
      }
      offset += passLength(info!, sampling, firstTs, lastTs);
      continue;
    }
    if (!source.reconnect) return;
    opts.log?.warn({ source: location, frames, err: failure?.message, retry_ms: backoff }, "video stream ended; reconnecting");
    await sleep(backoff, signal);
    backoff = Math.min(10_000, backoff * 2);
    info = undefined; // the stream may come back with another size
  }
}

/** Seconds of timeline one pass over a file takes. */
function passLength(info: SourceInfo, s: SourceSampling, firstTs: number, lastTs: number): number {
  const start = s.startS ?? 0;
  const step = s.every !== undefined ? s.every / (info.fps ?? 25) : 1 / Math.min(s.fps ?? 5, info.fps ?? Infinity);
  let len = info.durationS !== undefined ? info.durationS - start : lastTs - firstTs + step;
  if (s.durationS !== undefined) len = Math.min(len, s.durationS);
  // never shorter than what the pass spanned (a container's duration can be short by a frame)
  return Math.max(len, lastTs - start + step / 2);
}
