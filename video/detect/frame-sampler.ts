/**
 * Frame sampler: an async iterator of decoded RGB24 frames from a video file, an image or a URL,
 * through one ffmpeg process whose stdout is a raw video pipe.
 *
 *   ffprobe (first)  -> width, height (display orientation), frame rate, duration, still image?
 *   ffmpeg -i SRC -vf "showinfo@source,select=<first frame of each 1/N s slot>,showinfo@sampled"   (fps N, default 5)
 *                 -vf "showinfo@source,select=not(mod(n\,K)),showinfo@sampled"                    (`every: K`: every K-th source frame)
 *          -fps_mode passthrough -f rawvideo -pix_fmt rgb24 pipe:1
 *
 * Rate: `fps: N` takes the first decoded frame in each 1/N s slot of source time
 * (floor(t·N) grows), not ffmpeg's `fps` filter: that one stamps output frame k at k/N but fills
 * the slot with the LAST input frame rounding into it (on a 10 fps clip at fps=4, frame 0 holds
 * the 0.1 s picture) and duplicates frames when N exceeds the source rate. Here every frame keeps
 * its own picture time and a 10 fps source at `fps: 25` simply gives its 10 frames per second.
 *
 * Reading: exactly width×height×3 bytes per frame. A pipe chunk that holds a whole frame at the
 * read position is handed out as a view (no copy); otherwise the frame is assembled by copying
 * each chunk once into a fresh frame buffer (never concatenating the pending chunks).
 * Each yielded frame owns its bytes (or a view of a chunk that nothing else reuses), so a consumer
 * may keep it.
 *
 * Timestamps: `ts` is the frame's own pts in seconds from the source start (ffmpeg shifts the
 * input to start at 0; after an input seek `startS` is added back), read from the `showinfo`
 * filter's line for that frame on stderr and matched to the frame on stdout by order (the line may
 * arrive before or after the bytes). Correct for variable frame rate sources too.
 * `sourceIndex` is the frame's number in the source: the `showinfo@source` instance before the
 * select logs every decoded frame's number and pts, and the sampled frame's pts finds its line
 * (select passes frames through unchanged). After a `startS` seek the numbers count from the seek
 * point, so ceil(startS·fps) is added (exact for constant frame rate sources).
 * `-fps_mode passthrough` keeps ffmpeg from duplicating or dropping frames to make the raw output
 * constant-rate.
 *
 * Stopping: when the consumer stops iterating (break / return / throw) or `signal` aborts, ffmpeg's
 * pipe is closed and it gets SIGTERM (SIGKILL after 2 s); iteration then ends without an error.
 * An ffmpeg failure (bad input, exit code ≠ 0) is thrown with the tail of its stderr.
 */
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { ffmpegPath, ffprobePath, rational } from "../chunk/ffmpeg-tools.ts";

const execFileAsync = promisify(execFile);


export interface SampledFrame {
  /** index of this frame among the sampled frames (0, 1, 2, ...) */
  index: number;
  /** number of this frame in the source (0 = its first decoded frame), see the file header */
  sourceIndex: number;
  /** seconds from the source start, from the frame's pts */
  ts: number;
  width: number;
  height: number;
  /** width×height×3 bytes, RGB24, rows top to bottom */
  rgb: Uint8Array;
}

export interface SourceInfo {
  width: number;
  height: number;
  /** average frame rate of the video stream, if known */
  fps?: number;
  /** duration in seconds, if known */
  durationS?: number;
  /** number of frames, if the container says */
  frames?: number;
  /** a single still image (png, jpeg, ... read by an image demuxer) */
  still?: boolean;
}

export interface SamplerOptions {
  /** file path, image path or URL (rtsp://, http(s)://, ...) */
  source: string;
  /** frames per second of source time (default 5); ignored when `every` is set */
  fps?: number;
  /** take every n-th decoded source frame instead of a fixed rate */
  every?: number;
  /** start this many seconds into the source (input seek) */
  startS?: number;
  /** stop after this many seconds of source time */
  durationS?: number;
  /** stop after this many sampled frames */
  maxFrames?: number;
  signal?: AbortSignal;
  /** ffprobe result, if the caller already has it */
  info?: SourceInfo;
}


const positive = (v: unknown): number | undefined => {
  const n = typeof v === "string" ? Number(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

interface ProbeStream {
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  side_data_list?: { rotation?: number }[];
  tags?: { rotate?: string };
}

/** ffprobe of the first video stream: display size (rotation applied, as ffmpeg autorotates), rate, duration. */
export async function probeSource(source: string, signal?: AbortSignal): Promise<SourceInfo> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      ffprobePath(),
      ["-v", "error", "-select_streams", "v:0", "-show_entries",
        "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:stream_side_data=rotation:stream_tags=rotate:format=duration,format_name",
        "-of", "json", source],
      { signal, maxBuffer: 1 << 20 },
    ));
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`ffprobe cannot read ${source}: ${(err.stderr ?? err.message).trim().split("\n").slice(-2).join(" ")}`);
  }
  const j = JSON.parse(stdout) as { streams?: ProbeStream[]; format?: { duration?: string; format_name?: string } };
  const s = j.streams?.[0];
  if (!s || !s.width || !s.height) throw new Error(`ffprobe found no video stream in ${source}`);
  const rotation = Number(s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? s.tags?.rotate ?? 0);
  const swap = Math.abs(rotation) % 180 === 90;
  const fps = rational(s.avg_frame_rate) ?? rational(s.r_frame_rate);
  const durationS = positive(s.duration) ?? positive(j.format?.duration);
  const frames = positive(s.nb_frames);
  const format = j.format?.format_name ?? "";
  const still = /(^|,)(image2|[a-z0-9]+_pipe)(,|$)/.test(format) && durationS === undefined && (frames ?? 1) <= 1;
  return {
    width: swap ? s.height : s.width,
    height: swap ? s.width : s.height,
    ...(fps !== undefined && fps < 1000 ? { fps } : {}),
    ...(durationS !== undefined ? { durationS } : {}),
    ...(frames !== undefined ? { frames } : {}),
    ...(still ? { still } : {}),
  };
}

/** The ffmpeg arguments of a sampler (exported for tests and logs). */
export function samplerArgs(opts: SamplerOptions, info?: SourceInfo): string[] {
  const args = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"];
  if (opts.startS !== undefined && opts.startS > 0) args.push("-ss", String(opts.startS));
  args.push("-i", opts.source);
  // fps N: the first frame in each 1/N s slot of source time (its own pts, never a duplicate);
  // the epsilon keeps t·N of a frame right on a slot boundary (e.g. 0.30000000000000004·10) in that slot
  const slot = (t: string) => `floor(${t}*${opts.fps ?? 5}+1e-6)`;
  const select = opts.every !== undefined
    ? `select=not(mod(n\\,${opts.every}))`
    : `select=isnan(prev_selected_t)+gt(${slot("t")}\\,${slot("prev_selected_t")})`;
  // checksums only on the sampled frames: the source instance sees every decoded frame
  args.push("-map", "0:v:0", "-an", "-sn", "-dn", "-vf", `showinfo@source=checksum=0,${select},showinfo@sampled`, "-fps_mode", "passthrough");
  if (opts.durationS !== undefined) args.push("-t", String(opts.durationS));
  if (opts.maxFrames !== undefined) args.push("-frames:v", String(opts.maxFrames));
  args.push("-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1");
  return args;
}

/** a showinfo line: instance, frame number, pts and pts_time (numbers, or NOPTS for a frame without pts) */
const SHOWINFO = /showinfo@(source|sampled)\b.*?\bn:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:\s*(\S+)/;

/** ceil without float noise: 1.0000000002 frames is frame 1 */
const ceilish = (v: number) => Math.ceil(v - 1e-6);

/**
 * Decoded frames of `opts.source`. Validates options, probes the source, then streams frames.
 */
export async function* sampleFrames(opts: SamplerOptions): AsyncGenerator<SampledFrame, void, undefined> {
  if (opts.every !== undefined && !(Number.isInteger(opts.every) && opts.every >= 1)) throw new Error(`every must be an integer ≥ 1, got ${opts.every}`);
  if (opts.fps !== undefined && !(opts.fps > 0 && opts.fps <= 1000)) throw new Error(`fps must be > 0, got ${opts.fps}`);
  if (opts.maxFrames !== undefined && !(Number.isInteger(opts.maxFrames) && opts.maxFrames >= 1)) throw new Error(`maxFrames must be an integer ≥ 1, got ${opts.maxFrames}`);
  if (opts.signal?.aborted) return;
  const info = opts.info ?? (await probeSource(opts.source, opts.signal));
  if (opts.signal?.aborted) return;
  const { width, height } = info;
  const frameBytes = width * height * 3;

  const proc = spawn(ffmpegPath(), samplerArgs(opts, info), { stdio: ["ignore", "pipe", "pipe"] });
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    proc.once("error", (error) => resolve({ code: null, signal: null, error }));
    proc.once("close", (code, signal) => resolve({ code, signal }));
  });

  // showinfo timestamps and source numbers by output frame number, matched to stdout frames by index (dropped once used)
  const stamps = new Map<number, { ts: number; sourceIndex?: number }>();
  // source frame numbers by pts, of decoded frames the select has not passed on (yet)
  const sourceByPts = new Map<string, number>();
  const seekFrames = opts.startS !== undefined && opts.startS > 0 && info.fps !== undefined ? ceilish(opts.startS * info.fps) : 0;
  const stderrTail: string[] = [];
  let partial = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = SHOWINFO.exec(line);
      if (m?.[1] === "source") {
        if (m[3] !== "NOPTS") sourceByPts.set(m[3]!, Number(m[2]));
      } else if (m) {
        const n = sourceByPts.get(m[3]!);
        // the frames decoded before this one were passed over: forget them
        if (n !== undefined) for (const pts of sourceByPts.keys()) { sourceByPts.delete(pts); if (pts === m[3]) break; }
        stamps.set(Number(m[2]), { ts: (opts.startS ?? 0) + Number(m[4]), ...(n !== undefined ? { sourceIndex: seekFrames + n } : {}) }); // ts NaN when NOPTS
      } else if (line.trim()) {
        stderrTail.push(line);
        if (stderrTail.length > 20) stderrTail.shift();
      }
    }
  });
  const stampOf = async (k: number): Promise<{ ts: number; sourceIndex: number }> => {
    // the stderr line of frame k may arrive after its bytes on stdout: wait for it briefly
    for (let i = 0; !stamps.has(k) && i < 200; i++) {
      if (proc.stderr.readableEnded || proc.stderr.destroyed) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const stamp = stamps.get(k);
    stamps.delete(k);
    // fallback (no showinfo line): nominal time of the k-th sampled frame
    const rate = opts.every !== undefined ? (info.fps ?? 25) / opts.every : opts.fps ?? 5;
    const ts = stamp !== undefined && Number.isFinite(stamp.ts) ? stamp.ts : (opts.startS ?? 0) + k / rate;
    // fallback (no source line): the frame number its time gives
    const sourceIndex = stamp?.sourceIndex ??
      (opts.every !== undefined ? seekFrames + k * opts.every : info.fps !== undefined ? Math.round(ts * info.fps) : k);
    return { ts, sourceIndex };
  };

  const stop = () => {
    if (stopping) return;
    stopping = true;
    proc.stdout.destroy();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const hard = setTimeout(() => proc.kill("SIGKILL"), 2000);
      hard.unref();
      void exited.then(() => clearTimeout(hard));
    }
  };
  const onAbort = () => stop();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    let index = 0;
    let frame: Uint8Array | undefined;
    let filled = 0;
    const chunks = (async function* () {
      try {
        for await (const chunk of proc.stdout as AsyncIterable<Buffer>) yield chunk;
      } catch (e) {
        if (!stopping) throw e; // destroying the pipe on stop ends the iteration early
      }
    })();
    for await (const chunk of chunks) {
      if (stopping) break;
      let at = 0;
      while (at < chunk.length) {
        if (filled === 0 && chunk.length - at >= frameBytes) {
          // a whole frame inside this chunk: hand out a view
          const view = new Uint8Array(chunk.buffer, chunk.byteOffset + at, frameBytes);
          at += frameBytes;
          const { ts, sourceIndex } = await stampOf(index);
          yield { index, sourceIndex, ts, width, height, rgb: view };
          index++;
          if (stopping) break;
          continue;
        }
        frame ??= new Uint8Array(frameBytes);
        const n = Math.min(frameBytes - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === frameBytes) {
          const rgb = frame;
          frame = undefined;
          filled = 0;
          const { ts, sourceIndex } = await stampOf(index);
          yield { index, sourceIndex, ts, width, height, rgb };
          index++;
          if (stopping) break;
        }
      }
      if (stopping) break;
    }
    if (stopping) return;
    const end = await exited;
    if (stopping) return;
    if (end.error) throw new Error(`cannot run ffmpeg (${ffmpegPath()}): ${end.error.message}`);
    if (end.code !== 0) {
      throw new Error(`ffmpeg failed on ${opts.source} (exit ${end.code ?? end.signal}): ${stderrTail.slice(-3).join(" | ")}`);
    }
    if (filled !== 0) throw new Error(`ffmpeg ended inside a frame (${filled} of ${frameBytes} bytes); source size changed?`);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    stop();
    await exited;
  }
}
