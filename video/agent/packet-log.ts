/**
 * Packet logs: the segmenting ffmpeg writes, next to every chunk, a log of the chunk's video
 * packets (a second segment-muxer output of the same stream copy, in ffmpeg's `framecrc`
 * format), cut at the very same keyframes as the chunk. Reading that log gives the chunk's
 * exact duration, frame count, resolution and codec without starting ffprobe for every chunk.
 *
 * framecrc text: header lines `#tb 0: 1/12800`, `#codec_id 0: h264`, `#dimensions 0: 1920x1080`,
 * then one line per packet in the order they were muxed:
 *   `0,  dts,  pts,  duration,  size, 0xadler32[, F=0xflags][, S=n, size, 0xcrc ...]`
 * (no `F=` means the flags are exactly "keyframe"; missing timestamps are printed as INT64_MIN).
 */
import { readFile } from "node:fs/promises";
import { chunkTiming, type ChunkProbe } from "../chunk/chunk-probe.ts";

export interface LoggedPacket {
  dts: number | undefined;
  pts: number | undefined;
  /** packet duration in time-base ticks (0 = unknown) */
  duration: number;
  size: number;
  key: boolean;
}

export interface PacketLog {
  /** the stream's time base as [numerator, denominator] */
  timeBase: [number, number];
  codec: string;
  width: number;
  height: number;
  packets: LoggedPacket[];
}

/** A logged timestamp; undefined for AV_NOPTS_VALUE or anything not an exact integer. */
const ts = (s: string): number | undefined => {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
};

/** Parses a framecrc log of one video stream (stream index 0). Throws when it is not one. */
export function parsePacketLog(text: string): PacketLog {
  let timeBase: [number, number] | undefined;
  let codec: string | undefined;
  let width: number | undefined;
  let height: number | undefined;
  const packets: LoggedPacket[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      let m: RegExpExecArray | null;
      if ((m = /^#tb 0: (\d+)\/(\d+)$/.exec(line))) timeBase = [Number(m[1]), Number(m[2])];
      else if ((m = /^#codec_id 0: ([a-z0-9_]+)$/.exec(line))) codec = m[1];
      else if ((m = /^#dimensions 0: (\d+)x(\d+)$/.exec(line))) [width, height] = [Number(m[1]), Number(m[2])];
      else if ((m = /^#media_type 0: (\w+)$/.exec(line)) && m[1] !== "video") throw new Error(`packet log of a ${m[1]} stream`);
      continue;
    }
    const f = line.split(",").map((s) => s.trim());
    if (f.length < 6 || f[0] !== "0") throw new Error(`unreadable packet log line: ${line}`);
    const flags = f.slice(6).find((s) => s.startsWith("F="));
    const key = flags === undefined ? true : (parseInt(flags.slice(2), 16) & 1) === 1;
    const duration = ts(f[3]!);
    packets.push({ dts: ts(f[1]!), pts: ts(f[2]!), duration: duration !== undefined && duration > 0 ? duration : 0, size: Number(f[4]), key });
  }
  if (!timeBase || !(timeBase[0] > 0) || !(timeBase[1] > 0)) throw new Error("packet log without a time base");
  if (!codec || !width || !height) throw new Error("packet log without codec or dimensions");
  return { timeBase, codec, width, height, packets };
}

/** The median of the positive values, or 0 when there are none. */
function medianPositive(values: number[]): number {
  const v = values.filter((x) => x > 0).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : 0;
}

/**
 * A chunk's measures from its packet log, computed as chunk-probe.ts computes them from the chunk
 * file. A packet without a duration counts for the chunk's typical packet duration (the median of
 * the known ones, else the median step between successive presentation times).
 */
export function measurePacketLog(log: PacketLog): ChunkProbe {
  const tb = log.timeBase[0] / log.timeBase[1];
  let nominalTicks = medianPositive(log.packets.map((p) => p.duration));
  if (nominalTicks === 0) {
    const pts = log.packets.flatMap((p) => (p.pts === undefined ? [] : [p.pts])).sort((a, b) => a - b);
    nominalTicks = medianPositive(pts.slice(1).map((p, i) => p - pts[i]!));
  }
  const timing = chunkTiming(log.packets, tb, nominalTicks);
  return { ...timing, width: log.width, height: log.height, codec: log.codec };
}

/** Reads and measures the packet log `file`. */
export async function readPacketLog(file: string): Promise<ChunkProbe> {
  return measurePacketLog(parsePacketLog(await readFile(file, "utf8")));
}
