/**
 * Clips: an mp4 of a camera's wall-time range [from, to), cut from the stored chunks.
 *
 * The chunks overlapping the range are joined with ffmpeg's concat demuxer. The first chunk is
 * entered at its last keyframe at or before `from` (`inpoint`), the last left at `to`
 * (`outpoint`).
 *   - hd: stream copy (the source's quality); starts on that keyframe, so it may begin up to one
 *     GOP before `from` (`served.from_ms` says where). Chunks of different resolution or codec
 *     (a range across the warm and cold tiers) are re-encoded at the largest height instead.
 *   - sd: re-encoded (H.264) scaled to 480 lines (never up), trimmed exactly to the range.
 * The mp4 has `+faststart` (index first), so it can be streamed as it is read. It is written to a
 * temp file: the caller streams it (`stream()`) and calls `cleanup()`.
 *
 * Errors (ClipError, with the HTTP status the API should answer):
 *   invalid_range (400)          from ≥ to, or longer than maxSeconds
 *   no_video (404)               the camera has no chunk, or none in the range (a gap)
 *   range_not_satisfiable (416)  the range is wholly outside the recorded span (`available`)
 * A range partly outside the span, or with gaps, is clipped to what exists: `partial` is true
 * and `served` / `missing_ms` say what (worth a response header).
 */
import { execFile } from "node:child_process";
import { createReadStream, type ReadStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { ChunkEntry, ChunkStore } from "./chunk-store.ts";
import { ffmpegPath, ffprobePath } from "../chunk/ffmpeg-tools.ts";

const run = promisify(execFile);

export type ClipQuality = "hd" | "sd";
export type ClipErrorCode = "invalid_range" | "no_video" | "range_not_satisfiable";
const STATUS: Record<ClipErrorCode, number> = { invalid_range: 400, no_video: 404, range_not_satisfiable: 416 };

export class ClipError extends Error {
  readonly status: number;
  constructor(
    readonly code: ClipErrorCode,
    reason: string,
    /** the camera's recorded span, when it has one */
    readonly available?: { from_ms: number; to_ms: number },
  ) {
    super(reason);
    this.name = "ClipError";
    this.status = STATUS[code];
  }
}

export interface ClipRequest {
  store: ChunkStore;
  camera: string;
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, exclusive */
  to: number;
  quality: ClipQuality;
  /** longest clip accepted (default 3600 s) */
  maxSeconds?: number;
  /** where the temp file goes (default os.tmpdir()) */
  tmpDir?: string;
  /** aborts ffmpeg (e.g. the client went away) */
  signal?: AbortSignal;
  /** SD height (default 480) */
  sdHeight?: number;
}

export interface Clip {
  file: string;
  contentType: "video/mp4";
  bytes: number;
  quality: ClipQuality;
  requested: { from_ms: number; to_ms: number };
  /** the wall-time range the clip shows (hd: may start up to one GOP early) */
  served: { from_ms: number; to_ms: number };
  /** true when part of the requested range had no video */
  partial: boolean;
  /** requested time without video (outside the span or in gaps between chunks), ms */
  missing_ms: number;
  chunks: number;
  /** hd only: false = stream copy */
  reencoded: boolean;
  stream(): ReadStream;
  cleanup(): Promise<void>;
}

interface Packet { pts: number; dts: number; key: boolean }

/** The video packets of a chunk in decode (file) order: pts, dts (s, file timeline), keyframe flag. */
async function packets(file: string): Promise<Packet[]> {
  const { stdout } = await run(ffprobePath(), [
    "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,dts_time,flags", "-of", "csv=p=0", file,
  ], { maxBuffer: 64 * 1024 * 1024 });
  const out: Packet[] = [];
  for (const line of stdout.split("\n")) {
    const [pts, dts, flags] = line.split(",");
    const p = Number(pts), d = Number(dts);
    if (!pts || !Number.isFinite(p)) continue;
    out.push({ pts: p, dts: Number.isFinite(d) && dts ? d : p, key: flags?.includes("K") ?? false });
  }
  if (out.length === 0) throw new Error(`no video packets in ${file}`);
  return out;
}

/**
 * Where a stream copy may stop without leaving a hole in the picture sequence: positions j in
 * decode order where the packets before j are exactly the j earliest in presentation order
 * (e.g. before each P frame that follows its B frames). Returns [pts where the clip then ends,
 * dts of packet j] pairs; the chunk's end is the last.
 */
function cleanCuts(pk: Packet[]): { endPts: number; dts: number }[] {
  const byPts = pk.map((p) => p.pts).sort((a, b) => a - b);
  const cuts: { endPts: number; dts: number }[] = [];
  let maxPts = -Infinity;
  for (let j = 1; j < pk.length; j++) {
    maxPts = Math.max(maxPts, pk[j - 1]!.pts);
    // the first j packets are the j earliest when their latest pts is the j-th smallest
    if (maxPts === byPts[j - 1]) cuts.push({ endPts: byPts[j]!, dts: (pk[j - 1]!.dts + pk[j]!.dts) / 2 });
  }
  return cuts;
}

const quote = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
const sec = (x: number) => x.toFixed(6);

/** Cuts the clip (see the file comment). */
export async function cutClip(req: ClipRequest): Promise<Clip> {
  const { store, camera, from, to, quality } = req;
  const maxSeconds = req.maxSeconds ?? 3600;
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    throw new ClipError("invalid_range", `the range must have from < to (got from=${from}, to=${to})`);
  }
  if ((to - from) / 1000 > maxSeconds) throw new ClipError("invalid_range", `clips are limited to ${maxSeconds} s (asked ${(to - from) / 1000} s)`);
  const span = store.span(camera);
  if (!span) throw new ClipError("no_video", `camera ${camera} has no stored video`);
  if (to <= span.from_ms || from >= span.to_ms) {
    throw new ClipError("range_not_satisfiable",
      `the range ${new Date(from).toISOString()}..${new Date(to).toISOString()} is outside the recorded span of camera ${camera} (${new Date(span.from_ms).toISOString()}..${new Date(span.to_ms).toISOString()})`, span);
  }
  const entries = store.query(camera, from, to);
  if (entries.length === 0) throw new ClipError("no_video", `camera ${camera} has no video between ${new Date(from).toISOString()} and ${new Date(to).toISOString()} (a gap in the recording)`, span);

  const first = entries[0]!, last = entries.at(-1)!;
  const s = Math.max(from, first.meta.start_ms);
  const e = Math.min(to, last.meta.end_ms);
  const covered = entries.reduce((n, c) => n + Math.min(e, c.meta.end_ms) - Math.max(s, c.meta.start_ms), 0);
  const missing_ms = Math.max(0, (to - from) - covered);

  const sameFormat = entries.every((c) => c.width === first.width && c.height === first.height && c.meta.codec === first.meta.codec);
  const copy = quality === "hd" && sameFormat;
  const maxHeight = Math.max(...entries.map((c) => c.height));
  const height = quality === "sd" ? Math.min(req.sdHeight ?? 480, maxHeight) : maxHeight;
  const evenHeight = Math.max(2, Math.floor(height / 2) * 2);

  // where to enter the first chunk: its last keyframe at or before s
  const firstPk = await packets(store.blobPath(first.blob));
  const firstPts0 = Math.min(...firstPk.map((p) => p.pts));
  const offIn = (s - first.meta.start_ms) / 1000;
  let kf = firstPts0;
  for (const p of firstPk) if (p.key && p.pts - firstPts0 <= offIn + 0.0005) kf = Math.max(kf, p.pts);
  const kfOff = kf - firstPts0; // seconds into the first chunk where the clip enters

  // where to leave the last chunk (when it ends after e): a clean cut (no missing picture) —
  // stream copy: the one nearest e; re-encode: the first at or after e (trimmed exactly below)
  let outpoint: number | undefined;
  if (e < last.meta.end_ms) {
    const lastPk = last === first ? firstPk : await packets(store.blobPath(last.blob));
    const pts0 = Math.min(...lastPk.map((p) => p.pts));
    const target = pts0 + (e - last.meta.start_ms) / 1000;
    const cuts = cleanCuts(lastPk).filter((c) => last !== first || c.endPts > kf);
    const cut = copy
      ? cuts.reduce<typeof cuts[number] | undefined>((b, c) => (!b || Math.abs(c.endPts - target) < Math.abs(b.endPts - target) ? c : b), undefined)
      : cuts.find((c) => c.endPts >= target - 0.0005);
    outpoint = cut?.dts;
  }

  const lines = ["ffconcat version 1.0"];
  entries.forEach((c: ChunkEntry, i) => {
    lines.push(`file ${quote(store.blobPath(c.blob))}`);
    if (i === 0 && kfOff > 0) lines.push(`inpoint ${sec(kf)}`);
    if (i === entries.length - 1 && outpoint !== undefined) lines.push(`outpoint ${sec(outpoint)}`);
  });

  const dir = await mkdtemp(path.join(req.tmpDir ?? os.tmpdir(), "footfall-clip-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const list = path.join(dir, "list.ffconcat");
    await writeFile(list, lines.join("\n") + "\n");
    const file = path.join(dir, `${camera}-${from}-${to}-${quality}.mp4`);
    const args = ["-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-map", "0:v:0", "-an"];
    let servedFrom: number;
    if (copy) {
      args.push("-c", "copy");
      servedFrom = first.meta.start_ms + Math.round(kfOff * 1000);
    } else {
      const skip = Math.max(0, offIn - kfOff);
      const exact = quality === "sd";
      // sd: exact trim; hd re-encode (mixed tiers): same entry point as a copy would have
      servedFrom = exact ? s : first.meta.start_ms + Math.round(kfOff * 1000);
      if (exact) args.push("-ss", sec(skip));
      args.push("-t", sec((e - servedFrom) / 1000));
      args.push(
        "-vf", `scale=-2:${evenHeight}`, "-c:v", "libx264", "-preset", "veryfast", "-crf", quality === "sd" ? "28" : "20",
        "-pix_fmt", "yuv420p",
      );
    }
    args.push("-movflags", "+faststart", "-f", "mp4", file);
    await run(ffmpegPath(), args, { maxBuffer: 16 * 1024 * 1024, ...(req.signal ? { signal: req.signal } : {}) });
    const bytes = (await stat(file)).size;
    return {
      file, contentType: "video/mp4", bytes, quality,
      requested: { from_ms: from, to_ms: to },
      served: { from_ms: servedFrom, to_ms: e },
      partial: missing_ms > 0,
      missing_ms,
      chunks: entries.length,
      reencoded: !copy,
      stream: () => createReadStream(file),
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
