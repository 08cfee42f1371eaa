/**
 * Packet logs (video/agent/packet-log.ts, chunk-measure.ts): a real framecrc log of an H.264
 * file with B-frames measures the same as ffprobe of the file, also with its packet durations
 * removed; ChunkMeasurer uses logs that agree with ffprobe and falls back to ffprobe for the
 * rest of the run when a log disagrees or cannot be read; the agent measures mkv and MPEG-TS
 * chunks from their packet logs too.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCameraAgent } from "../../../video/agent/agent.ts";
import { ChunkMeasurer } from "../../../video/agent/chunk-measure.ts";
import { probeChunk, type ChunkProbe } from "../../../video/chunk/chunk-probe.ts";
import { measurePacketLog, parsePacketLog } from "../../../video/agent/packet-log.ts";
import { makeTestSource } from "../media.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
const run = promisify(execFile);
let tmp: string;
/** two files cut from one source with libx264's B-frames, and their packet logs */
let files: { video: string; log: string }[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-packet-log-"));
  const src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 6 });
  files = [];
  for (const [i, range] of [["0", "3"], ["3", "3"]].entries()) {
    const video = path.join(tmp, `part-${i}.mp4`);
    const log = path.join(tmp, `part-${i}.crc`);
    await run(FFMPEG, ["-hide_banner", "-loglevel", "error", "-ss", range[0]!, "-t", range[1]!, "-i", src, "-map", "0:v:0", "-c", "copy", video]);
    await run(FFMPEG, ["-hide_banner", "-loglevel", "error", "-i", video, "-map", "0:v:0", "-c", "copy", "-f", "framecrc", log]);
    files.push({ video, log });
  }
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

function expectSameMeasures(a: ChunkProbe, b: ChunkProbe): void {
  expect([a.frames, a.width, a.height, a.codec]).toEqual([b.frames, b.width, b.height, b.codec]);
  expect(Math.abs(a.duration_s - b.duration_s)).toBeLessThanOrEqual(1e-6);
}

describe("packet log", () => {
  it("measures a file with B-frames as ffprobe does", async () => {
    const { video, log } = files[0]!;
    const parsed = parsePacketLog(await readFile(log, "utf8"));
    const probed = await probeChunk(video);
    console.log(`log: tb ${parsed.timeBase.join("/")}, ${parsed.packets.length} packets, ${parsed.packets.filter((p) => p.key).length} keyframes; ffprobe: ${probed.frames} frames, ${probed.duration_s} s`);
    // decode order is not presentation order (B-frames), and a keyframe starts every 1-s GOP
    expect(parsed.packets.some((p, i) => i > 0 && p.pts! < parsed.packets[i - 1]!.pts!)).toBe(true);
    const [num, den] = parsed.timeBase;
    const keys = parsed.packets.filter((p) => p.key).map((p) => (p.pts! * num) / den);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    expect(keys.map((t) => t - keys[0]!)).toEqual(keys.map((_, i) => i));
    expect(parsed.packets[0]!.key).toBe(true);
    expectSameMeasures(measurePacketLog(parsed), probed);
  });

  it("without packet durations, counts each packet for the typical step between presentation times", async () => {
    const { video, log } = files[0]!;
    const text = (await readFile(log, "utf8")).split("\n")
      .map((l) => (l.startsWith("#") || !l.trim() ? l : l.replace(/^(\s*0,\s*-?\d+,\s*-?\d+,)\s*\d+,/, "$1        0,"))).join("\n");
    const parsed = parsePacketLog(text);
    expect(parsed.packets.every((p) => p.duration === 0)).toBe(true);
    expectSameMeasures(measurePacketLog(parsed), await probeChunk(video));
  });

  it("refuses text that is not a video packet log", () => {
    expect(() => parsePacketLog("0, 1, 2\n")).toThrow();
    expect(() => parsePacketLog("0,          0,          0,      512,     4739, 0xba744125\n")).toThrow(/time base/);
  });
});

describe("ChunkMeasurer", () => {
  it("uses packet logs once the first one agrees with ffprobe", async () => {
    const m = new ChunkMeasurer();
    for (const { video, log } of files) {
      const r = await m.measure(video, log);
      expect(r.by).toBe("packet-log");
      expectSameMeasures(r.probe, await probeChunk(video));
    }
    expect(m.counts).toEqual({ "packet-log": 2, ffprobe: 0 });
  });

  it("falls back to ffprobe for the rest of the run when the first log disagrees", async () => {
    const { video, log } = files[0]!;
    const lines = (await readFile(log, "utf8")).split("\n");
    const lastPacket = lines.map((l) => /^\s*0,/.test(l)).lastIndexOf(true);
    const short = path.join(tmp, "short.crc");
    await writeFile(short, lines.filter((_, i) => i !== lastPacket).join("\n"));
    const m = new ChunkMeasurer();
    const first = await m.measure(video, short);
    expect(first.by).toBe("ffprobe");
    expectSameMeasures(first.probe, await probeChunk(video));
    const second = await m.measure(files[1]!.video, files[1]!.log);
    expect(second.by).toBe("ffprobe");
    expect(m.counts).toEqual({ "packet-log": 0, ffprobe: 2 });
  });

  it("falls back to ffprobe when a log cannot be read, and without a log", async () => {
    const garbage = path.join(tmp, "garbage.crc");
    await writeFile(garbage, "not a packet log\n");
    const m = new ChunkMeasurer();
    expect((await m.measure(files[0]!.video, garbage)).by).toBe("ffprobe");
    expect((await new ChunkMeasurer().measure(files[0]!.video)).by).toBe("ffprobe");
    expect((await new ChunkMeasurer().measure(files[0]!.video, path.join(tmp, "missing.crc"))).by).toBe("ffprobe");
  });
});

describe("camera agent: packet logs for other chunk containers", () => {
  for (const format of ["mkv", "ts"] as const) {
    it(`${format} chunks are measured from their packet logs and add up to the source`, async () => {
      const src = path.join(tmp, "src.mp4");
      const srcProbe = await probeChunk(src);
      const dataDir = path.join(tmp, `agent-${format}`);
      const res = await runCameraAgent({ camera: "cam-1", key: "k", source: { kind: "file", path: src }, dataDir, segmentSeconds: 2, format });
      console.log(`${format}: ` + res.chunks.map((c) => `#${c.seq} ${c.duration_s}s ${c.frames}f`).join("; ") + ` measured by ${JSON.stringify(res.measuredBy)}`);
      expect(res.reason).toBe("ended");
      expect(res.measuredBy).toEqual({ "packet-log": res.chunks.length, ffprobe: 0 });
      expect(res.chunks.map((c) => c.file)).toEqual(res.chunks.map((_, i) => `chunk-${String(i).padStart(8, "0")}.${format}`));
      expect(res.chunks.reduce((s, c) => s + c.frames, 0)).toBe(srcProbe.frames);
      expect(Math.abs(res.chunks.reduce((s, c) => s + c.duration_s, 0) - srcProbe.duration_s)).toBeLessThanOrEqual(0.001);
      for (const c of res.chunks) {
        const probed = await probeChunk(path.join(dataDir, "chunks", c.file));
        expect(c.frames).toBe(probed.frames);
        expect(Math.abs(c.duration_s - probed.duration_s)).toBeLessThanOrEqual(0.001);
      }
    });
  }
});
