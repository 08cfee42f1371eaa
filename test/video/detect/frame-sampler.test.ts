/**
 * The frame sampler against the real ffmpeg/ffprobe: sources made here with known frame times and
 * pixel contents (a lossless clip whose red channel encodes the frame number, a variable-frame-rate
 * clip, a PNG), checked frame by frame: count, pts-based timestamps, the frame's number in the
 * source, exact bytes, both the
 * "whole frame inside one pipe chunk" and the "frame across chunks" paths; stopping early and on
 * abort leaves no ffmpeg behind; vtest.avi ms per frame is printed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeSource, sampleFrames, type SampledFrame, type SamplerOptions } from "../../../video/detect/frame-sampler.ts";
import { hasVtest, VTEST_AVI } from "../../models/frames.ts";

const NO_VTEST = !hasVtest();
if (NO_VTEST) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)");

let dir: string;
/** 10 fps, 3 s, lossless RGB; frame n has R = (n*10) mod 256, G = x mod 256, B = y mod 256 */
const clip = (w: number, h: number) => path.join(dir, `counter-${w}x${h}.mkv`);
let vfrClip: string;
let png: string;
/** intended frame times of the VFR clip (the truth checked against is what ffprobe reads back) */
const VFR_TIMES = [0, 0.1, 0.2, 0.3, 0.4, 0.7, 1.0, 1.3, 1.6, 2.5];

/** presentation times of the video packets, by ffprobe (independent of the sampler) */
function packetTimes(file: string): number[] {
  const r = spawnSync("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file]);
  return r.stdout.toString().trim().split("\n").map(Number).sort((a, b) => a - b);
}

function ffmpeg(args: string[]): void {
  const r = spawnSync("/usr/bin/ffmpeg", ["-v", "error", "-y", ...args]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
}

function makeCounterClip(w: number, h: number): void {
  ffmpeg([
    "-f", "lavfi", "-i", `color=black:s=${w}x${h}:r=10:d=3,format=gbrp,geq=r='mod(N*10\\,256)':g='mod(X\\,256)':b='mod(Y\\,256)'`,
    "-c:v", "ffv1", "-pix_fmt", "gbrp", clip(w, h),
  ]);
}

/** all frames; `keep` holds on to the yielded bytes themselves (they must stay valid) */
async function collect(opts: SamplerOptions, keep = false): Promise<SampledFrame[]> {
  const out: SampledFrame[] = [];
  for await (const f of sampleFrames(opts)) out.push(keep ? f : { ...f, rgb: f.rgb.slice() });
  return out;
}

/** ffmpeg processes whose command line names `needle` */
function ffmpegsFor(needle: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes("ffmpeg") && cmd.includes(needle)) pids.push(Number(p));
    } catch { /* gone */ }
  }
  return pids;
}

function expectCounterFrame(f: SampledFrame, n: number): void {
  const { width, height, rgb } = f;
  expect(rgb.length).toBe(width * height * 3);
  for (const [x, y] of [[0, 0], [width - 1, 0], [7, height - 1], [width - 1, height - 1], [width >> 1, height >> 1]] as const) {
    const p = (y * width + x) * 3;
    expect([rgb[p], rgb[p + 1], rgb[p + 2]]).toEqual([(n * 10) % 256, x % 256, y % 256]);
  }
}

describe("frame sampler", () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "footfall-sampler-"));
    makeCounterClip(64, 48); // 9 KB frames: several per pipe chunk
    makeCounterClip(320, 240); // 230 KB frames: each across several chunks
    vfrClip = path.join(dir, "vfr.mkv");
    const expr = VFR_TIMES.map((t, i) => `eq(N\\,${i})*${t}`).join("+");
    ffmpeg([
      "-f", "lavfi", "-i", "color=black:s=32x32:r=10:d=1,format=gbrp,geq=r='N*20':g=0:b=0",
      "-vf", `setpts='(${expr})/TB'`, "-fps_mode", "vfr", "-c:v", "ffv1", "-pix_fmt", "gbrp", vfrClip,
    ]);
    png = path.join(dir, "still.png");
    const raw = path.join(dir, "still.rgb");
    writeFileSync(raw, Buffer.alloc(50 * 30 * 3).map((_, i) => [0x33, 0x66, 0xcc][i % 3]!));
    ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "50x30", "-i", raw, "-frames:v", "1", png]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("probes size, rate, duration", async () => {
    const info = await probeSource(clip(64, 48));
    expect(info.width).toBe(64);
    expect(info.height).toBe(48);
    expect(info.fps).toBe(10);
    expect(info.durationS).toBeCloseTo(3, 1);
  });

  for (const [w, h] of [[64, 48], [320, 240]] as const) {
    it(`fps=4 on a 10 fps clip (${w}x${h}): the first source frame of each quarter second, at its own time`, async () => {
      const frames = await collect({ source: clip(w, h), fps: 4 });
      // source frame n is at n/10 s, in quarter-second slot floor(4n/10) (integer arithmetic)
      const expected: number[] = [];
      for (let n = 0; n < 30; n++) if (expected.length === 0 || Math.floor((4 * n) / 10) > Math.floor((4 * expected.at(-1)!) / 10)) expected.push(n);
      expect(expected.slice(0, 5)).toEqual([0, 3, 5, 8, 10]);
      expect(frames.length).toBe(expected.length);
      frames.forEach((f, k) => {
        expect(f.index).toBe(k);
        expect(f.sourceIndex).toBe(expected[k]);
        expect(f.ts).toBeCloseTo(expected[k]! / 10, 6);
        expect([f.width, f.height]).toEqual([w, h]);
        expectCounterFrame(f, expected[k]!);
      });
    });

    it(`every=3 (${w}x${h}): source frames 0, 3, 6, ... at their own times`, async () => {
      const frames = await collect({ source: clip(w, h), every: 3 }, true);
      expect(frames.length).toBe(10);
      frames.forEach((f, k) => {
        expect(f.ts).toBeCloseTo((3 * k) / 10, 6);
        expect(f.sourceIndex).toBe(3 * k);
        expectCounterFrame(f, 3 * k);
      });
    });
  }

  it("timestamps come from each frame's pts (variable frame rate)", async () => {
    const truth = packetTimes(vfrClip);
    expect(truth.length).toBe(VFR_TIMES.length);
    expect(truth.at(-1)).toBeCloseTo(2.5, 6); // irregular: a 0.9 s gap at the end
    const frames = await collect({ source: vfrClip, every: 1 });
    expect(frames.map((f) => f.ts)).toEqual(truth);
    frames.forEach((f, i) => expect(f.rgb[0]).toBe(i * 20));
    expect(frames.map((f) => f.sourceIndex)).toEqual(truth.map((_, i) => i));
    const every2 = await collect({ source: vfrClip, every: 2 });
    expect(every2.map((f) => f.ts)).toEqual(truth.filter((_, i) => i % 2 === 0));
    expect(every2.map((f) => f.sourceIndex)).toEqual([0, 2, 4, 6, 8]);
    // fps 2 over the irregular times: the first frame of each half second
    const half = await collect({ source: vfrClip, fps: 2 });
    const slots = truth.flatMap((t, i) => (i === 0 || Math.floor(t * 2 + 1e-6) > Math.floor(truth[i - 1]! * 2 + 1e-6) ? [i] : []));
    expect(half.map((f) => f.sourceIndex)).toEqual(slots);
  });

  it("start, duration and maxFrames limit the frames", async () => {
    const d = await collect({ source: clip(64, 48), fps: 10, startS: 1, durationS: 1 });
    expect(d.length).toBe(10);
    expect(d[0]!.ts).toBeCloseTo(1, 6);
    expectCounterFrame(d[0]!, 10);
    expect(d.map((f) => f.sourceIndex)).toEqual(d.map((_, k) => 10 + k)); // numbered in the source, not from the seek
    const m = await collect({ source: clip(64, 48), fps: 10, maxFrames: 4 });
    expect(m.map((f) => f.index)).toEqual([0, 1, 2, 3]);
  });

  it("reads a still image as one frame", async () => {
    const frames = await collect({ source: png });
    expect(frames.length).toBe(1);
    const f = frames[0]!;
    expect([f.width, f.height, f.ts, f.sourceIndex]).toEqual([50, 30, 0, 0]);
    expect([f.rgb[0], f.rgb[1], f.rgb[2]]).toEqual([0x33, 0x66, 0xcc]);
  });

  it("stops ffmpeg when the consumer stops and on abort", async () => {
    const src = clip(320, 240);
    let n = 0;
    for await (const _ of sampleFrames({ source: src, every: 1 })) if (++n === 2) break;
    expect(n).toBe(2);
    expect(ffmpegsFor(src)).toEqual([]);

    const ac = new AbortController();
    const seen: number[] = [];
    for await (const f of sampleFrames({ source: src, every: 1, signal: ac.signal })) {
      seen.push(f.index);
      if (f.index === 3) ac.abort();
    }
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen.length).toBeLessThan(30);
    expect(ffmpegsFor(src)).toEqual([]);
  });

  it("fails clearly on a missing file and on bad options", async () => {
    await expect(collect({ source: path.join(dir, "nope.mp4") })).rejects.toThrow(/ffprobe cannot read .*nope\.mp4/);
    await expect(collect({ source: clip(64, 48), every: 0 })).rejects.toThrow(/every/);
    await expect(collect({ source: clip(64, 48), fps: -1 })).rejects.toThrow(/fps/);
  });

  it.skipIf(NO_VTEST)("samples vtest.avi at 5 fps (ms per frame printed)", async () => {
    const t0 = performance.now();
    const frames = await collect({ source: VTEST_AVI, fps: 5, durationS: 4 });
    const ms = (performance.now() - t0) / frames.length;
    expect(frames.length).toBe(20);
    frames.forEach((f, k) => {
      expect(f.ts).toBeCloseTo(k / 5, 6); // 10 fps source: every other frame
      expect([f.width, f.height]).toEqual([768, 576]);
    });
    // consecutive frames differ (real video, not a repeated frame)
    const diff = frames[0]!.rgb.reduce((s, v, i) => s + Math.abs(v - frames[10]!.rgb[i]!), 0);
    expect(diff).toBeGreaterThan(0);
    console.log(`vtest.avi 768x576, fps=5: ${frames.length} frames, ${ms.toFixed(1)} ms per sampled frame (decode + pipe)`);
  });
});
