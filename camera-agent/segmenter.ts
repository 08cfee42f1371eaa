/**
 * The segmenter: one ffmpeg process (via fluent-ffmpeg) that reads a video source and cuts it
 * into numbered chunk files without re-encoding (segment muxer, stream copy, first video stream
 * only). ffmpeg appends each chunk to a CSV segment list when the chunk is complete; the list is
 * polled and every completed chunk is handed to `onSegment` in sequence order, one at a time.
 *
 * Sources: a file read as fast as possible, a file paced in real time (`-re`), either looped
 * (`-stream_loop -1`), or a URL (rtsp://, http(s)://, tcp://, ...). RTSP media comes over TCP
 * (interleaved) unless the source asks for RTP over UDP (servers without interleaving). A
 * seekable source (a file that is not looped) can start at `seekSeconds`. Chunks are cut only
 * on keyframes, so with a GOP of g seconds a chunk lasts a whole number of GOPs ≥ segmentSeconds.
 *
 * Stopping: on `signal` abort ffmpeg gets SIGINT, closes the chunk being written (it becomes the
 * last segment, marked `cutByStop`) and exits; no further segment is handed over after the
 * current `onSegment` call returns.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import ffmpeg from "fluent-ffmpeg";
import type { Logger } from "pino";
import { removeFfmpegPid, writeFfmpegPid } from "./ffmpeg-pid.ts";

export type VideoSource =
  | { kind: "file"; path: string; pace?: "fast" | "realtime"; loop?: boolean }
  | {
      kind: "url";
      url: string;
      /** RTSP media transport (default "tcp", interleaved on the RTSP connection; "udp" for servers without it) */
      rtspTransport?: "tcp" | "udp";
    };

/** A source whose position can be chosen at start (resume without gap or duplicate). */
export const isSeekable = (s: VideoSource): boolean => s.kind === "file" && !s.loop;

export type ChunkFormat = "mp4" | "mkv" | "ts";

export interface SegmenterOptions {
  source: VideoSource;
  /** folder for the chunk files */
  outDir: string;
  /** target chunk length in seconds (ffmpeg cuts at the first keyframe after it) */
  segmentSeconds: number;
  /** number of the first chunk of this run (file chunk-%08d) */
  startNumber: number;
  /** start this many seconds into a seekable source */
  seekSeconds?: number;
  format?: ChunkFormat;
  signal?: AbortSignal;
  log?: Logger;
  /** segment list poll interval, ms */
  pollMs?: number;
  /**
   * called as soon as a completed chunk appears in the list, before it is handed to onSegment
   * (lets the caller start work on later chunks while an earlier one is being handed over)
   */
  onListed?: (seg: { seq: number; path: string }) => void;
  /** write ffmpeg's pid here while it runs (see ffmpeg-pid.ts) */
  pidFile?: string;
  /** called once ffmpeg has opened the input, with the clock then (epoch ms) */
  onInputOpened?: (atMs: number) => void;
}

export interface CompletedSegment {
  seq: number;
  /** absolute path of the chunk file */
  path: string;
  /** ffmpeg's own start / end times of the chunk in the output timeline (s), from the list */
  listStart: number;
  listEnd: number;
  /** the last chunk of a run stopped by the abort signal: it ends where ffmpeg was stopped */
  cutByStop: boolean;
}

export interface SegmenterResult {
  /** "ended": the source ended; "aborted": stopped by the signal; "failed": ffmpeg failed */
  reason: "ended" | "aborted" | "failed";
  /** segments handed to onSegment */
  segments: number;
  error?: Error;
  /** ffmpeg's command line */
  command: string;
}

export const chunkFileName = (seq: number, format: ChunkFormat = "mp4"): string =>
  `chunk-${String(seq).padStart(8, "0")}.${format}`;

export const CHUNK_FILE_RE = /^chunk-(\d{8,})\.(mp4|mkv|ts)$/;

function inputOptions(source: VideoSource, seekSeconds: number): string[] {
  const o = ["-nostdin"];
  if (source.kind === "file") {
    if (source.loop) o.push("-stream_loop", "-1");
    if (source.pace === "realtime") o.push("-re");
    if (seekSeconds > 0 && !source.loop) o.push("-ss", seekSeconds.toFixed(6));
  } else {
    // live inputs: give up when the stream stalls for 10 s instead of hanging (the RTSP demuxer
    // has no -rw_timeout: its socket I/O timeout is -timeout; over UDP it gives up after 10 s itself)
    if (/^rtsps?:/.test(source.url)) o.push("-rtsp_transport", source.rtspTransport ?? "tcp", "-timeout", "10000000");
    else if (/^(tcp|http|https):/.test(source.url)) o.push("-rw_timeout", "10000000");
    // read at most 1 s of stream to learn its parameters (default 5 s: a 5-s burst at start)
    o.push("-analyzeduration", "1000000");
  }
  return o;
}

/** Parses complete lines of ffmpeg's CSV segment list ("file,start,end"). */
export function parseSegmentList(text: string): { file: string; start: number; end: number }[] {
  const out: { file: string; start: number; end: number }[] = [];
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  for (const line of complete.split("\n")) {
    if (!line.trim()) continue;
    const m = /^"?(.*?)"?,([-0-9.e+]+),([-0-9.e+]+)$/.exec(line.trim());
    if (!m) throw new Error(`unreadable segment list line: ${line}`);
    out.push({ file: m[1]!, start: Number(m[2]), end: Number(m[3]) });
  }
  return out;
}

/**
 * Runs ffmpeg until the source ends, the signal aborts or ffmpeg fails; hands every completed
 * chunk to `onSegment` in order (awaited one at a time). Resolves when all handed-over chunks
 * are processed. An error thrown by onSegment stops ffmpeg and rejects.
 */
export async function runSegmenter(
  opts: SegmenterOptions,
  onSegment: (seg: CompletedSegment) => Promise<void>,
): Promise<SegmenterResult> {
  const format = opts.format ?? "mp4";
  const pollMs = opts.pollMs ?? 200;
  await mkdir(opts.outDir, { recursive: true });
  const listFile = path.join(opts.outDir, `segments-${process.pid}-${opts.startNumber}.csv`);
  await rm(listFile, { force: true });

  const source = opts.source.kind === "file" ? opts.source.path : opts.source.url;
  const cmd = ffmpeg(source)
    .inputOptions(inputOptions(opts.source, opts.seekSeconds ?? 0))
    .outputOptions([
      "-map", "0:v:0", "-c", "copy",
      "-f", "segment",
      "-segment_time", String(opts.segmentSeconds),
      "-reset_timestamps", "1",
      "-segment_format", format === "mkv" ? "matroska" : format === "ts" ? "mpegts" : "mp4",
      "-segment_list", listFile,
      "-segment_list_type", "csv",
      "-segment_start_number", String(opts.startNumber),
    ])
    .output(path.join(opts.outDir, `chunk-%08d.${format}`));
  if (process.env.FFMPEG_PATH) cmd.setFfmpegPath(process.env.FFMPEG_PATH);

  let command = "";
  let exited = false;
  let stopping = false;
  /** the abort came while ffmpeg was still running (so it cut a last chunk for us) */
  let abortedWhileRunning = false;
  let exitError: Error | undefined;
  let handed = 0;
  let listed = 0;
  let pidWritten: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;
  const exitedP = new Promise<void>((resolve) => {
    const onExit = () => { exited = true; resolve(); wake?.(); };
    cmd.on("start", (c: string) => {
      command = c;
      const pid = (cmd as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc?.pid;
      opts.log?.debug({ command: c, pid }, "ffmpeg started");
      if (opts.pidFile && pid !== undefined) pidWritten = writeFfmpegPid(opts.pidFile, pid, opts.outDir).catch(() => {});
    });
    cmd.on("codecData", () => opts.onInputOpened?.(Date.now()));
    cmd.on("end", onExit);
    cmd.on("error", (err: Error, _out: string | null, stderr: string | null) => {
      if (!stopping) exitError = new Error(`${err.message}\n${(stderr ?? "").split("\n").slice(-8).join("\n")}`);
      onExit();
    });
  });
  const kill = () => {
    if (exited) return;
    try { cmd.kill("SIGINT"); } catch { /* already gone */ }
  };
  const stop = () => {
    if (stopping) return;
    stopping = true;
    abortedWhileRunning = !exited;
    opts.log?.info({ ffmpegRunning: abortedWhileRunning }, "segmenter stopping");
    kill();
    wake?.();
  };
  cmd.run();
  if (opts.signal?.aborted) stop();
  else opts.signal?.addEventListener("abort", stop, { once: true });

  const sleep = () => new Promise<void>((resolve) => {
    const t = setTimeout(() => { wake = undefined; resolve(); }, pollMs);
    wake = () => { clearTimeout(t); wake = undefined; resolve(); };
  });
  const readList = async () => (existsSync(listFile) ? parseSegmentList(await readFile(listFile, "utf8")) : []);

  try {
    for (;;) {
      // ffmpeg had finished before the abort: the chunks not handed over yet are left alone
      if (stopping && !abortedWhileRunning) break;
      // stopped while running: wait until ffmpeg has closed the chunk it was writing
      if (stopping && !exited) { await exitedP; continue; }
      const done = exited;
      const entries = await readList();
      for (; listed < entries.length; listed++) {
        opts.onListed?.({ seq: opts.startNumber + listed, path: path.join(opts.outDir, entries[listed]!.file) });
      }
      while (handed < entries.length) {
        // after a stop, hand over only from a read of the list made after ffmpeg exited
        if (stopping && (!abortedWhileRunning || !done)) break;
        const i = handed;
        const e = entries[i]!;
        const seq = opts.startNumber + i;
        const m = CHUNK_FILE_RE.exec(e.file);
        if (!m || Number(m[1]) !== seq) throw new Error(`segment list out of order: ${e.file} where chunk ${seq} was expected`);
        const cutByStop = stopping && done && i === entries.length - 1;
        await onSegment({ seq, path: path.join(opts.outDir, e.file), listStart: e.start, listEnd: e.end, cutByStop });
        handed++;
      }
      if (done) break;
      if (!stopping) await sleep();
    }
  } catch (err) {
    stopping = true;
    kill();
    await exitedP;
    await pidWritten;
    if (opts.pidFile) await removeFfmpegPid(opts.pidFile);
    await rm(listFile, { force: true });
    opts.signal?.removeEventListener("abort", stop);
    throw err;
  }
  await exitedP;
  await pidWritten;
  if (opts.pidFile) await removeFfmpegPid(opts.pidFile);
  await rm(listFile, { force: true });
  opts.signal?.removeEventListener("abort", stop);
  const reason = stopping ? "aborted" : exitError ? "failed" : "ended";
  return { reason, segments: handed, command, ...(exitError ? { error: exitError } : {}) };
}
