/** The benchmarks' 1080p H.264 source (25 fps, GOP 2 s), generated once with ffmpeg and cached in the temp folder. */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { makeTestSource } from "../../video/media.ts";

export const benchCacheDir = path.join(os.tmpdir(), "footfall-bench");

export async function benchSource1080p(seconds: number): Promise<string> {
  await mkdir(benchCacheDir, { recursive: true });
  const src = path.join(benchCacheDir, `src-1080p-${seconds}s.mp4`);
  if (!existsSync(src)) {
    const t = performance.now();
    console.log(`generating ${src} (x264 ultrafast, once) ...`);
    await makeTestSource(src, { size: "1920x1080", rate: 25, seconds, gop: 50, preset: "ultrafast" });
    console.log(`  took ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return src;
}
