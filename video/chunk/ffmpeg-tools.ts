import { readVariable } from "../../infra/config.ts";

/**
 * Where Debian's ffmpeg and ffprobe are (FFMPEG_PATH / FFPROBE_PATH override the PATH lookup),
 * and ffprobe's rational numbers ("30000/1001") as numbers.
 */
export const ffmpegPath = (): string => readVariable("ffmpegPath");
export const ffprobePath = (): string => readVariable("ffprobePath");

/** "n/d" or "n" -> n/d; undefined when absent, malformed, zero or negative. */
export function rational(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const [n, d] = s.split("/").map(Number);
  if (n === undefined || !Number.isFinite(n)) return undefined;
  const v = d === undefined ? n : n / d;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}
