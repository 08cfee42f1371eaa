/**
 * Test frames for the model tests, made with the real ffmpeg: a testsrc2 pattern, the pedestrian
 * clip vtest.avi of the opencv-doc Debian package (extracted by infra/setup.sh), random noise and flat grey;
 * all as RGB24 bytes.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

import { fileURLToPath } from "node:url";

/** vtest.avi as infra/setup.sh extracts it from Debian's opencv-doc, else the installed package's copy */
const VTEST_CANDIDATES = [
  fileURLToPath(new URL("../../.footfall/media/vtest.avi", import.meta.url)),
  "/usr/share/doc/opencv-doc/examples/data/vtest.avi",
];
export const VTEST_AVI = VTEST_CANDIDATES.find((p) => existsSync(p)) ?? VTEST_CANDIDATES[0]!;
export const VTEST_WIDTH = 768;
export const VTEST_HEIGHT = 576;

export interface RgbFrame {
  name: string;
  width: number;
  height: number;
  rgb: Uint8Array;
}

function ffmpegRgb(args: string[], width: number, height: number): Uint8Array {
  const r = spawnSync("/usr/bin/ffmpeg", ["-v", "error", ...args, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], {
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  const rgb = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  if (rgb.length !== width * height * 3) throw new Error(`ffmpeg gave ${rgb.length} bytes, expected ${width * height * 3}`);
  return rgb;
}

export function testsrcFrame(width = 416, height = 416): RgbFrame {
  return { name: "testsrc2", width, height, rgb: ffmpegRgb(["-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=1`], width, height) };
}

export const hasVtest = (): boolean => existsSync(VTEST_AVI);

/** one frame of vtest.avi at `seconds` (real pedestrians, 768x576) */
export function vtestFrame(seconds = 2): RgbFrame {
  return {
    name: `vtest@${seconds}s`,
    width: VTEST_WIDTH,
    height: VTEST_HEIGHT,
    rgb: ffmpegRgb(["-ss", String(seconds), "-i", VTEST_AVI], VTEST_WIDTH, VTEST_HEIGHT),
  };
}

/** deterministic uniform noise (xorshift) */
export function noiseFrame(width = 416, height = 416, seed = 12345): RgbFrame {
  const rgb = new Uint8Array(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < rgb.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    rgb[i] = s & 0xff;
  }
  return { name: "noise", width, height, rgb };
}

export function greyFrame(width = 416, height = 416, value = 128): RgbFrame {
  return { name: "grey", width, height, rgb: new Uint8Array(width * height * 3).fill(value) };
}
