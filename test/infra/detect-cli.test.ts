/**
 * `footfall detect` as a user runs it: the real CLI (node infra/cli/footfall.js, tsx, ffmpeg,
 * onnxruntime-node) on a few seconds of vtest.avi. Every stdout line must be JSON in the issue's
 * format (frame: the number in the source, sampled: the index among the sampled frames, ts,
 * detections with box in source pixels, score, upper/lower colour attrs that pass the camera
 * event contract); some frames hold ≥ 2 persons; the summary on stderr is printed.
 * A still image gives one line. Bad options and a missing file exit 2 with a message on stderr and nothing on stdout.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AttrValue, Colour, Detection } from "../../contracts/detection.ts";
import { parseDetectOptions } from "../../infra/cli/detect-command.ts";
import { DEFAULT_SCORE } from "../../models/detector-defaults.ts";
import { parseDetectMainOptions } from "../../video/detect/detect-options.ts";
import { hasVtest, VTEST_AVI, VTEST_HEIGHT, VTEST_WIDTH } from "../models/frames.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = path.join(ROOT, "infra", "cli", "footfall.js");
const NO_VTEST = !hasVtest();
if (NO_VTEST) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)");

const FrameLine = z.strictObject({
  frame: z.number().int().nonnegative(),
  sampled: z.number().int().nonnegative(),
  ts: z.number().nonnegative(),
  detections: z.array(z.strictObject({
    box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
    score: z.number().min(0).max(1),
    attrs: z.strictObject({ upper: AttrValue, lower: AttrValue }),
  })),
});

function detect(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, "detect", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const decimals = (v: number) => (String(v).split(".")[1] ?? "").length;

describe("footfall detect", () => {
  it.skipIf(NO_VTEST)("prints one JSON line per frame of vtest.avi in the issue's format", () => {
    const r = detect([VTEST_AVI, "--fps", "2", "--duration", "4", "--threads", "2"]);
    console.log(r.stderr.trim());
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBe(8); // 4 s at 2 fps
    const frames = lines.map((l) => FrameLine.parse(JSON.parse(l)));
    frames.forEach((f, k) => {
      expect(f.sampled).toBe(k);
      expect(f.frame).toBe(5 * k); // a 10 fps source at 2 fps: every 5th frame
      expect(f.ts).toBeCloseTo(k / 2, 6);
      for (const d of f.detections) {
        const [x1, y1, x2, y2] = d.box;
        expect(x1).toBeGreaterThanOrEqual(0);
        expect(y1).toBeGreaterThanOrEqual(0);
        expect(x2).toBeLessThanOrEqual(VTEST_WIDTH);
        expect(y2).toBeLessThanOrEqual(VTEST_HEIGHT);
        d.box.forEach((v) => expect(decimals(v)).toBeLessThanOrEqual(1));
        expect(decimals(d.score)).toBeLessThanOrEqual(3);
        expect(d.score).toBeGreaterThanOrEqual(DEFAULT_SCORE); // the camera's threshold by default
        expect(Colour.options).toContain(d.attrs.upper.value);
        expect(Colour.options).toContain(d.attrs.lower.value);
        // the same detection is valid in the camera event contract
        Detection.parse({ oid: "cli-test", cls: "person", score: d.score, box: d.box, attrs: d.attrs });
      }
    });
    const crowded = frames.filter((f) => f.detections.length >= 2);
    expect(crowded.length).toBeGreaterThanOrEqual(4);
    const colours = new Set(frames.flatMap((f) => f.detections.flatMap((d) => [d.attrs.upper.value, d.attrs.lower.value])));
    console.log(`colours seen: ${[...colours].join(", ")}; detections per frame: ${frames.map((f) => f.detections.length).join(" ")}`);
    expect(r.stderr).toMatch(/8 frames processed of 8 sampled/);
  });

  it.skipIf(NO_VTEST)("--every and --max-frames; --motion only prints the frames it lets through", () => {
    const every = detect([VTEST_AVI, "--every", "4", "--max-frames", "3", "--no-progress"]);
    expect(every.code).toBe(0);
    const everyLines = every.stdout.trim().split("\n").map((l) => JSON.parse(l) as { frame: number; sampled: number; ts: number });
    expect(everyLines.map((l) => l.ts)).toEqual([0, 0.4, 0.8]);
    expect(everyLines.map((l) => [l.frame, l.sampled])).toEqual([[0, 0], [4, 1], [8, 2]]);
    const gated = detect([VTEST_AVI, "--every", "1", "--max-frames", "6", "--motion", "0.9", "--max-skip", "2"]);
    expect(gated.code).toBe(0);
    // nothing changes 90 % of the picture: the first frame, then every 3rd (max-skip 2)
    const gatedLines = gated.stdout.trim().split("\n").map((l) => JSON.parse(l) as { frame: number; sampled: number });
    expect(gatedLines.map((l) => l.sampled)).toEqual([0, 3]);
    expect(gatedLines.map((l) => l.frame)).toEqual([0, 3]); // --every 1: the same numbers
    expect(gated.stderr).toMatch(/2 frames processed of 6 sampled/);
  });

  it.skipIf(NO_VTEST)("takes a still image: one line, frame 0 (sampled 0) at 0 s", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "footfall-detect-"));
    try {
      const png = path.join(dir, "vtest-20s.png");
      const ff = spawnSync("/usr/bin/ffmpeg", ["-v", "error", "-ss", "20", "-i", VTEST_AVI, "-frames:v", "1", png]);
      expect(ff.status).toBe(0);
      const r = detect([png, "--no-progress"]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split("\n").map((l) => FrameLine.parse(JSON.parse(l)));
      expect(lines.length).toBe(1);
      expect([lines[0]!.frame, lines[0]!.sampled, lines[0]!.ts]).toEqual([0, 0, 0]);
      expect(lines[0]!.detections.length).toBeGreaterThanOrEqual(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 2 with a message on a missing file or a bad option", () => {
    const missing = detect([path.join(ROOT, "no-such-video.mp4")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file: .*no-such-video\.mp4/);
    expect(missing.stdout).toBe("");
    const src = NO_VTEST ? CLI : VTEST_AVI;
    for (const [args, message] of [
      [[src, "--fps", "abc"], /--fps must be a number > 0/],
      [[src, "--fps", "0"], /--fps must be a number > 0/],
      [[src, "--every", "1.5"], /--every must be an integer ≥ 1/],
      [[src, "--fps", "2", "--every", "3"], /either --fps or --every/],
      [[src, "--score", "2"], /--score must be a number ≥ 0 and ≤ 1/],
      [[src, "--bogus"], /unknown option '--bogus'/],
      [[], /missing required argument 'file'/],
    ] as const) {
      const r = detect([...args]);
      expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe("");
    }
  });

  it("scores with the camera's default threshold", () => {
    const camera = parseDetectMainOptions({ camera: "cam-1", site: "hq", mqtt: "mqtt://127.0.0.1:1883", source: "clip.mp4" });
    expect(parseDetectOptions(CLI, {}).score).toBe(camera.score);
    expect(camera.score).toBe(DEFAULT_SCORE);
    const help = spawnSync(process.execPath, [CLI, "detect", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(help.stdout).toMatch(new RegExp(`--score <n>[^\\n]*\\(default: "${DEFAULT_SCORE}"\\)`));
  });

  it("exits 2 when ffprobe cannot read the input", () => {
    const r = detect([CLI]); // a JavaScript file, not a video
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ffprobe/);
  });
});
