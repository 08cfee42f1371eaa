/**
 * The camera agent's run loop: segmenter → measures (from the chunk's packet log, see
 * chunk-measure.ts; ffprobe when there is none) and sha256 → signed metadata → sidecar file →
 * resume state, one chunk at a time in sequence order.
 *
 * Data folder layout:
 *   {dataDir}/state.json                 resume state (next seq, next start wall time, source offset)
 *   {dataDir}/ffmpeg.pid                 the running ffmpeg (stopped by the next run if orphaned)
 *   {dataDir}/chunks/chunk-00000042.mp4  the chunk (stream copy of the source's first video stream)
 *   {dataDir}/chunks/chunk-00000042.json its signed ChunkMeta (written before state.json moves on)
 *   {dataDir}/packets/packets-00000042.crc  the chunk's packet log while it is being recorded
 *                                        (deleted once recorded; the folder is emptied at start)
 *
 * Wall time. Live sources (URL, looped file): the first chunk of a run starts at the agent's
 * clock when ffmpeg opened the input, or (if earlier) when the first chunk was complete minus its
 * duration — never before the previous run's end (to within the accuracy of that estimate:
 * ffmpeg's input analysis reads up to 1 s before it reports the input open); each next chunk
 * starts where the previous ended (start + exact durations). After a restart, the wall time the
 * agent was down is missing footage: the first chunk of the new run says so in `gap_before_ms`.
 * Seekable sources (a file, not looped): the run resumes at the source position after the last
 * recorded chunk and its timeline continues exactly (gap_before_ms = 0); the chunk ffmpeg was
 * writing when the agent was stopped is dropped (it is cut again, whole, by the next run).
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rm } from "node:fs/promises";
import { promisify } from "node:util";
import os from "node:os";
import path from "node:path";
import type { Logger } from "pino";
import type { ChunkMeta } from "../../contracts/video.ts";
import { chunkMetaOf, type CameraKey } from "../chunk/chunk-meta.ts";
import { ChunkMeasurer, type ChunkMeasure, type MeasuredBy } from "./chunk-measure.ts";
import { ffprobePath } from "../chunk/ffmpeg-tools.ts";
import { limitOf, Semaphore } from "../../infra/semaphore.ts";
import { stopOrphanFfmpeg } from "./ffmpeg-pid.ts";
import { sha256File } from "../chunk/file-sha256.ts";
import { writeFileAtomic } from "../../infra/state-file.ts";
import { loadResumeState, saveResumeState, type ResumeState } from "./resume-state.ts";
import { isSeekable, runSegmenter, type ChunkFormat, type SegmenterResult, type VideoSource } from "./segmenter.ts";

export interface CameraAgentOptions {
  camera: string;
  key: CameraKey;
  source: VideoSource;
  dataDir: string;
  segmentSeconds: number;
  format?: ChunkFormat;
  signal?: AbortSignal;
  log?: Logger;
  /** called after a chunk is recorded (sidecar and state written) */
  onChunk?: (meta: ChunkMeta, file: string) => void | Promise<void>;
  /** chunks measured and hashed ahead at once (default: cores, at most 4) */
  lookahead?: number;
  /**
   * measure chunks from packet logs written by the segmenting ffmpeg (default true); false:
   * ffprobe every chunk file
   */
  packetLog?: boolean;
  /** the agent's clock (epoch ms) */
  clock?: () => number;
}

export interface CameraAgentResult extends SegmenterResult {
  /** chunks recorded in this run */
  chunks: ChunkMeta[];
  /** chunks cut by the segmenter but not recorded (the seekable source's chunk cut by the stop, empty chunks) */
  dropped: number;
  state: ResumeState | undefined;
  /** chunks measured in this run, by method (ffprobe counts the packet logs' check chunk when it disagreed) */
  measuredBy: Record<MeasuredBy, number>;
}

interface ChunkAnalysis {
  measure: ChunkMeasure;
  hash: { sha256: string; bytes: number };
}

const runFile = promisify(execFile);

export const chunksDir = (dataDir: string) => path.join(dataDir, "chunks");
export const stateFile = (dataDir: string) => path.join(dataDir, "state.json");
export const packetLogsDir = (dataDir: string) => path.join(dataDir, "packets");
export const sidecarOf = (chunkFile: string) => chunkFile.replace(/\.[a-z0-9]+$/, ".json");

/** Deletes chunk files numbered ≥ nextSeq: leftovers of a run stopped before recording them. */
async function removeUnrecorded(dir: string, nextSeq: number, log?: Logger): Promise<void> {
  for (const name of await readdir(dir)) {
    const m = /^chunk-(\d{8,})\./.exec(name);
    if ((m && Number(m[1]) >= nextSeq) || /^segments-.*\.csv$/.test(name)) {
      await rm(path.join(dir, name), { force: true });
      log?.info({ file: name }, "removed a file of an unrecorded chunk or an old segment list");
    }
  }
}

/** Seconds of a file's first video stream (else of the container). */
async function videoLength(file: string): Promise<number | undefined> {
  const { stdout } = await runFile(ffprobePath(), [
    "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=duration:format=duration", "-of", "json", file,
  ]);
  const j = JSON.parse(stdout) as { streams?: { duration?: string }[]; format?: { duration?: string } };
  const d = Number(j.streams?.[0]?.duration ?? j.format?.duration);
  return Number.isFinite(d) && d > 0 ? d : undefined;
}

/** Runs the agent until the source ends or `signal` aborts. */
export async function runCameraAgent(opts: CameraAgentOptions): Promise<CameraAgentResult> {
  const clock = opts.clock ?? Date.now;
  const dir = chunksDir(opts.dataDir);
  await mkdir(dir, { recursive: true });
  const statePath = stateFile(opts.dataDir);
  let state = await loadResumeState(statePath);
  if (state && state.camera !== opts.camera) throw new Error(`state.json belongs to camera ${state.camera}, not ${opts.camera}`);
  const startSeq = state?.next_seq ?? 0;
  const pidFile = path.join(opts.dataDir, "ffmpeg.pid");
  if (await stopOrphanFfmpeg(pidFile, dir)) opts.log?.warn("stopped the ffmpeg of a previous run that was still running");
  await removeUnrecorded(dir, startSeq, opts.log);
  const logsDir = packetLogsDir(opts.dataDir);
  await rm(logsDir, { recursive: true, force: true });
  const usePacketLog = opts.packetLog ?? true;
  // hashes and ffprobe runs of listed chunks go ahead (up to `lookahead` of each at once) while
  // earlier chunks are recorded; records are still made strictly in sequence order
  const lookahead = Math.max(1, opts.lookahead ?? Math.min(4, os.availableParallelism()));
  const limitHash = limitOf(new Semaphore(Math.max(1, lookahead)));
  const measurer = new ChunkMeasurer({ limit: limitOf(new Semaphore(Math.max(1, lookahead))), ...(opts.log ? { log: opts.log } : {}) });

  const seekable = isSeekable(opts.source);
  const offset = seekable ? state?.source_offset_s ?? 0 : 0;
  if (seekable && offset > 0 && opts.source.kind === "file") {
    // a file recorded to its end: nothing is left (seeking there would land on the last keyframe
    // and record the last GOP again under a new seq)
    const length = await videoLength(opts.source.path).catch(() => undefined);
    if (length !== undefined && offset >= length - 0.01) {
      opts.log?.info({ offset, length }, "the source file is recorded to its end: nothing to do");
      return { reason: "ended", segments: 0, command: "", chunks: [], dropped: 0, state, measuredBy: { ...measurer.counts } };
    }
  }
  let inputOpenedAt: number | undefined;
  const listedAtMs = new Map<string, number>(); // when each chunk appeared in ffmpeg's list
  let t0: number | undefined; // wall time (ms, may be fractional) where this run's first chunk starts
  let cum = 0; // exact seconds recorded in this run
  const chunks: ChunkMeta[] = [];
  let dropped = 0;

  const analyses = new Map<string, Promise<ChunkAnalysis>>();
  const analyse = ({ path: file, packetLog }: { path: string; packetLog?: string }): Promise<ChunkAnalysis> => {
    let p = analyses.get(file);
    if (!p) {
      p = (async () => {
        const [measure, hash] = await Promise.all([measurer.measure(file, packetLog), limitHash(() => sha256File(file))]);
        return { measure, hash };
      })();
      p.catch(() => {}); // awaited (and reported) when the chunk is recorded
      analyses.set(file, p);
    }
    return p;
  };

  const result = await runSegmenter({
    source: opts.source,
    outDir: dir,
    segmentSeconds: opts.segmentSeconds,
    startNumber: startSeq,
    // 1 ms past the recorded position: ffmpeg seeks to the keyframe at or before it, which is the
    // keyframe the last recorded chunk ended on (stream copy keeps the packets from there)
    ...(offset > 0 ? { seekSeconds: offset + 0.001 } : {}),
    ...(opts.format ? { format: opts.format } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    pidFile,
    ...(usePacketLog ? { packetLogDir: logsDir } : {}),
    onInputOpened: (at) => { inputOpenedAt = at; },
    onListed: (seg) => { listedAtMs.set(seg.path, clock()); void analyse(seg); },
  }, async (seg) => {
    const expected = startSeq + chunks.length;
    if (seg.cutByStop && seekable) {
      await rm(seg.path, { force: true });
      dropped++;
      opts.log?.info({ seq: seg.seq }, "dropped the chunk cut by the stop (seekable source: cut again on resume)");
      return;
    }
    if (seg.seq !== expected) throw new Error(`chunk ${seg.seq} where ${expected} was expected`);
    const { measure: { probe }, hash } = await analyse(seg);
    analyses.delete(seg.path);
    listedAtMs.delete(seg.path);
    if (seg.packetLog) await rm(seg.packetLog, { force: true });
    if (probe.frames === 0) {
      await rm(seg.path, { force: true });
      dropped++;
      return;
    }
    if (t0 === undefined) {
      if (seekable && state) t0 = state.next_start_ms;
      else {
        // the live stream's first frame: when ffmpeg opened the input, or earlier when the first
        // chunk was complete sooner than its duration after that (ffmpeg read a buffered burst)
        const listedAt = listedAtMs.get(seg.path) ?? clock();
        const opened = Math.min(inputOpenedAt ?? Infinity, listedAt - probe.duration_s * 1000);
        t0 = Math.max(opened, state?.next_start_ms ?? -Infinity);
      }
    }
    const start_ms = Math.round(t0 + cum * 1000);
    cum += probe.duration_s;
    const end_ms = Math.round(t0 + cum * 1000);
    const gap_before_ms = chunks.length === 0 && state ? Math.max(0, start_ms - state.next_start_ms) : 0;
    const meta = chunkMetaOf(seg.path, probe, hash, { camera: opts.camera, seq: seg.seq, start_ms, end_ms, gap_before_ms }, opts.key);
    await writeFileAtomic(sidecarOf(seg.path), JSON.stringify(meta) + "\n");
    state = {
      v: 1,
      camera: opts.camera,
      next_seq: seg.seq + 1,
      next_start_ms: end_ms,
      source_offset_s: seekable ? offset + cum : 0,
      updated_ms: Math.round(clock()),
    };
    await saveResumeState(statePath, state);
    chunks.push(meta);
    opts.log?.debug({ seq: meta.seq, duration_s: meta.duration_s, frames: meta.frames }, "chunk recorded");
    await opts.onChunk?.(meta, seg.path);
  });
  // let analyses of chunks not recorded (stopped run) finish before their files are touched again
  await Promise.allSettled(analyses.values());
  await rm(logsDir, { recursive: true, force: true });
  if (result.reason === "failed") opts.log?.error({ err: result.error }, "ffmpeg failed");
  opts.log?.debug({ measuredBy: measurer.counts }, "chunks measured");
  return { ...result, chunks, dropped, state, measuredBy: { ...measurer.counts } };
}
