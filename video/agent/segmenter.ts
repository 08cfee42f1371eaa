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
 * Packet logs (option `packetLogDir`): the same ffmpeg also writes, for every chunk, a log of the
 * chunk's video packets (timestamps, durations, keyframe flags; see packet-log.ts) through a
 * second segment muxer fed the very same packets with the same cut options, so the logs are cut
 * at the same keyframes as the chunks. Its own segment list must name the same times as the
 * chunks' list; a segment is handed over with its packet log when both lists have it (or
 * without one, when the logs' list does not keep up or does not match).
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
import { ffmpegPath } from "../chunk/ffmpeg-tools.ts";

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
  /** segment list poll interval, ms (default 50 for a file read as fast as possible, else 200) */
  pollMs?: number;
  /**
   * called as soon as a completed chunk appears in the list, before it is handed to onSegment
   * (lets the caller start work on later chunks while an earlier one is being handed over)
   */
  onListed?: (seg: { seq: number; path: string; packetLog?: string }) => void;
  /** write ffmpeg's pid here while it runs (see ffmpeg-pid.ts) */
  pidFile?: string;
  /** called once ffmpeg has opened the input, with the clock then (epoch ms) */
  onInputOpened?: (atMs: number) => void;
  /** folder for the chunks' packet logs (packets-%08d.crc); none written when absent */
  packetLogDir?: string;
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
  /** absolute path of the chunk's packet log (complete), when packet logs are written and it matched */
  packetLog?: string;
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

export const CHUNK_FILE_RE = /^chunk-(\d{8,})\.(mp4|mkv|ts)$/;

export const PACKET_LOG_FILE_RE = /^packets-(\d{8,})\.crc$/;

function inputOptions(source: VideoSource, seekSeconds: number): string[] {
  // -copytb 1: the chunks keep the demuxer's time base (e.g. 1/90000 for RTSP, MPEG-TS) instead of
  // one derived from the frame rate (timestamps rounded to whole frames). The chunks and their
  // packet logs then share one time base, so a timestamp ffmpeg has to repair (a live stream's
  // first packets may have none) is repaired alike in both and they are cut at the same keyframes.
  const o = ["-nostdin", "-copytb", "1"];
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

/** ffmpeg segment muxer options shared by the chunks and their packet logs (same cuts). */
function segmentOptions(segmentSeconds: number, startNumber: number, segmentFormat: string, listFile: string): string[] {
  return [
    "-map", "0:v:0", "-c", "copy",
    "-f", "segment",
    "-segment_time", String(segmentSeconds),
    "-reset_timestamps", "1",
    "-segment_format", segmentFormat,
    "-segment_list", listFile,
    "-segment_list_type", "csv",
    "-segment_start_number", String(startNumber),
  ];
}

export interface SegmentListEntry { file: string; start: number; end: number }

/** Parses complete lines of ffmpeg's CSV segment list ("file,start,end"). */
export function parseSegmentList(text: string): SegmentListEntry[] {
  const out: SegmentListEntry[] = [];
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
  // a file read as fast as possible yields many chunks a second: list them without delay
  const fastFile = opts.source.kind === "file" && opts.source.pace !== "realtime";
  const pollMs = opts.pollMs ?? (fastFile ? 50 : 200);
  await mkdir(opts.outDir, { recursive: true });
  const listFile = path.join(opts.outDir, `segments-${process.pid}-${opts.startNumber}.csv`);
  await rm(listFile, { force: true });

  const logDir = opts.packetLogDir;
  const logListFile = logDir ? path.join(logDir, `packets-${process.pid}-${opts.startNumber}.csv`) : undefined;
  if (logDir && logListFile) {
    await mkdir(logDir, { recursive: true });
    await rm(logListFile, { force: true });
  }

  const source = opts.source.kind === "file" ? opts.source.path : opts.source.url;
  const cmd = ffmpeg(source).inputOptions(inputOptions(opts.source, opts.seekSeconds ?? 0));
  // the packet logs come first: ffmpeg hands each packet to its outputs in order, so a log's
  // segment is closed no later than its chunk's
  if (logDir && logListFile) {
    cmd.output(path.join(logDir, "packets-%08d.crc"))
      .outputOptions(segmentOptions(opts.segmentSeconds, opts.startNumber, "framecrc", logListFile));
  }
  const segmentFormat = format === "mkv" ? "matroska" : format === "ts" ? "mpegts" : "mp4";
  cmd.output(path.join(opts.outDir, `chunk-%08d.${format}`))
    .outputOptions(segmentOptions(opts.segmentSeconds, opts.startNumber, segmentFormat, listFile));
  cmd.setFfmpegPath(ffmpegPath());

  let command = "";
  let exited = false;
  let stopping = false;
  /** the abort came while ffmpeg was still running (so it cut a last chunk for us) */
  let abortedWhileRunning = false;
  let exitError: Error | undefined;
  let handed = 0;
  /** the packet log (if any) of each segment announced to onListed so far, by list index */
  const listedLogs: (string | undefined)[] = [];
  let pidWritten: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;
  const exitedP = new Promise<void>((resolve) => {
    const onExit = () => { exited = true; resolve(); wake?.(); };
    cmd.on("start", (c: string) => {
      command = c;
      const pid = (cmd as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc?.pid;
      opts.log?.debug({ command: c, pid }, "ffmpeg started");
      if (opts.pidFile && pid !== undefined) pidWritten = writeFfmpegPid(opts.pidFile, pid, opts.outDir).catch(() => {});
      // a stop that came before fluent-ffmpeg had spawned ffmpeg could not reach it then
      if (stopping) kill();
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
  const readListFile = async (file: string | undefined) => (file && existsSync(file) ? parseSegmentList(await readFile(file, "utf8")) : []);
  let logsMismatched = false;
  /** the packet log of list entry i, if the logs' list has it for the same cut */
  const packetLogOf = (i: number, e: SegmentListEntry, logEntries: SegmentListEntry[]): string | undefined => {
    const le = logEntries[i];
    if (!logDir || !le || logsMismatched) return undefined;
    const m = PACKET_LOG_FILE_RE.exec(le.file);
    if (m && Number(m[1]) === opts.startNumber + i && le.start === e.start && le.end === e.end) return path.join(logDir, le.file);
    logsMismatched = true;
    opts.log?.warn({ chunk: e, packetLog: le }, "packet log list does not match the chunk list: chunks measured with ffprobe from here on");
    return undefined;
  };

  /** after ffmpeg exited: its pid file and segment lists removed, the abort listener gone */
  const cleanUp = async () => {
    await exitedP;
    await pidWritten;
    if (opts.pidFile) await removeFfmpegPid(opts.pidFile);
    await rm(listFile, { force: true });
    if (logListFile) await rm(logListFile, { force: true });
    opts.signal?.removeEventListener("abort", stop);
  };

  try {
    for (;;) {
      // ffmpeg had finished before the abort: the chunks not handed over yet are left alone
      if (stopping && !abortedWhileRunning) break;
      // stopped while running: wait until ffmpeg has closed the chunk it was writing
      if (stopping && !exited) { await exitedP; continue; }
      const done = exited;
      // the chunks' list first: the logs' list read after it is at least as far
      const entries = await readListFile(listFile);
      const logEntries = await readListFile(logListFile);
      // a chunk is ready when its packet log is listed too, or the logs' list will not catch up:
      // ffmpeg has exited, the chunks' list is already a segment further, or logs are off/mismatched
      const ready = (i: number) => !logDir || logsMismatched || done || i < logEntries.length || i + 1 < entries.length;
      while (listedLogs.length < entries.length && ready(listedLogs.length)) {
        const i = listedLogs.length;
        const e = entries[i]!;
        const packetLog = packetLogOf(i, e, logEntries);
        listedLogs.push(packetLog);
        opts.onListed?.({ seq: opts.startNumber + i, path: path.join(opts.outDir, e.file), ...(packetLog ? { packetLog } : {}) });
      }
      while (handed < listedLogs.length) {
        // after a stop, hand over only from a read of the list made after ffmpeg exited
        if (stopping && (!abortedWhileRunning || !done)) break;
        const i = handed;
        const e = entries[i]!;
        const seq = opts.startNumber + i;
        const m = CHUNK_FILE_RE.exec(e.file);
        if (!m || Number(m[1]) !== seq) throw new Error(`segment list out of order: ${e.file} where chunk ${seq} was expected`);
        const cutByStop = stopping && done && i === entries.length - 1;
        const packetLog = listedLogs[i];
        await onSegment({ seq, path: path.join(opts.outDir, e.file), listStart: e.start, listEnd: e.end, cutByStop, ...(packetLog ? { packetLog } : {}) });
        handed++;
      }
      if (done) break;
      // (ffmpeg may have exited while chunks were handed over: read the lists again at once)
      if (!stopping && !exited) await sleep();
    }
  } catch (err) {
    stopping = true;
    kill();
    await cleanUp();
    throw err;
  }
  await cleanUp();
  const reason = stopping ? "aborted" : exitError ? "failed" : "ended";
  return { reason, segments: handed, command, ...(exitError ? { error: exitError } : {}) };
}
