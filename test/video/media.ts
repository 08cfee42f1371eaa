/** Test sources for the camera agent, generated with Debian's ffmpeg into a temp folder. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestSourceSpec {
  size: string; // e.g. 640x360
  rate: number; // frames/s
  seconds: number;
  /** keyframe interval in frames (GOP); default = rate (1 s) */
  gop?: number;
  preset?: string;
}

/** An H.264 test pattern (testsrc2) with a fixed GOP, so chunks cut on whole GOPs. */
export async function makeTestSource(file: string, spec: TestSourceSpec): Promise<void> {
  const gop = String(spec.gop ?? spec.rate);
  await run(process.env.FFMPEG_PATH ?? "ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", `testsrc2=size=${spec.size}:rate=${spec.rate}`,
    "-t", String(spec.seconds),
    "-c:v", "libx264", "-preset", spec.preset ?? "veryfast", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
    "-pix_fmt", "yuv420p", file,
  ]);
}

/** Per-frame MD5s of the decoded video (ffmpeg framemd5), for comparing frame content. */
export async function frameMd5s(file: string): Promise<string[]> {
  const { stdout } = await run(process.env.FFMPEG_PATH ?? "ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", file, "-map", "0:v:0", "-f", "framemd5", "-"], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(",").pop()!.trim());
}
