/**
 * ffprobe of one chunk file: exact duration from the video stream's packet timestamps,
 * frame count, resolution and codec.
 *
 * Duration = (latest pts + its packet duration) − earliest pts over the first video stream's
 * packets, computed in the stream's time base (integer ticks), so it does not depend on the
 * container's rounded duration field or on edit lists. Frames = number of video packets.
 * The agent measures chunks from their packet logs (packet-log.ts, same computation: chunkTiming)
 * and runs this once per run as a check, or for every chunk when there is no usable packet log.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ffprobePath, rational } from "./ffmpeg-tools.ts";

const execFileAsync = promisify(execFile);

export interface ChunkProbe {
  duration_s: number;
  frames: number;
  width: number;
  height: number;
  codec: string;
  /** the duration of one frame (s), from the packets or the stream's frame rate */
  frame_s: number;
}


interface ProbeJson {
  packets?: { pts?: string | number; duration?: string | number }[];
  streams?: { codec_name?: string; width?: number; height?: number; time_base?: string; avg_frame_rate?: string; r_frame_rate?: string }[];
}


const int = (v: string | number | undefined): number | undefined => {
  if (v === undefined || v === "N/A") return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
};

/**
 * Duration, frames and typical frame duration of a chunk's video packets (timestamps and
 * durations in ticks of `tb` seconds; duration ≤ 0 = unknown, counted as `nominalTicks`):
 * duration = (latest pts + its duration) − earliest pts, frames = packets with a pts.
 * Shared by the ffprobe path below and the packet log (packet-log.ts).
 */
export function chunkTiming(
  packets: Iterable<{ pts: number | undefined; duration: number }>, tb: number, nominalTicks: number,
): { duration_s: number; frames: number; frame_s: number } {
  let first = Infinity, end = -Infinity, frames = 0, durTicks = 0, durKnown = 0;
  for (const p of packets) {
    if (p.pts === undefined) continue;
    frames++;
    const d = p.duration > 0 ? p.duration : 0;
    if (d > 0) { durTicks += d; durKnown++; }
    if (p.pts < first) first = p.pts;
    const e = p.pts + (d > 0 ? d : nominalTicks);
    if (e > end) end = e;
  }
  const frame_s = (durKnown > 0 ? durTicks / durKnown : nominalTicks) * tb;
  const duration_s = frames > 0 ? (end - first) * tb : 0;
  return { duration_s, frames, frame_s };
}

/** Probes `file`; throws when it has no video stream. */
export async function probeChunk(file: string): Promise<ChunkProbe> {
  const { stdout } = await execFileAsync(ffprobePath(), [
    "-v", "error", "-select_streams", "v:0",
    "-show_entries", "packet=pts,duration:stream=codec_name,width,height,time_base,avg_frame_rate,r_frame_rate",
    "-of", "json", file,
  ], { maxBuffer: 64 * 1024 * 1024 });
  const j = JSON.parse(stdout) as ProbeJson;
  const st = j.streams?.[0];
  if (!st || !st.codec_name || !st.width || !st.height) throw new Error(`no video stream in ${file}`);
  const tb = rational(st.time_base);
  if (!tb) throw new Error(`no time base for the video stream of ${file}`);
  const fps = rational(st.avg_frame_rate) ?? rational(st.r_frame_rate);

  // a packet without a duration gets the stream's nominal frame duration
  const nominalTicks = fps ? Math.round(1 / fps / tb) : 0;
  const packets = (j.packets ?? []).map((p) => ({ pts: int(p.pts), duration: int(p.duration) ?? 0 }));
  const { duration_s, frames, frame_s } = chunkTiming(packets, tb, nominalTicks);
  return { duration_s, frames, width: st.width, height: st.height, codec: st.codec_name, frame_s };
}
