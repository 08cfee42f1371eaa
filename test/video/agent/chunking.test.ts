/**
 * Camera agent on a file read as fast as possible: chunks in order, contiguous, durations and
 * frames adding up to the source, signatures and hashes right; a stop in the middle and a
 * restart continue with no gap and no duplicate (same frames as the source, in order).
 * Chunks are measured from the packet logs the segmenting ffmpeg writes; every record agrees
 * with ffprobe of its chunk file, and a run measuring every chunk with ffprobe (packet logs
 * off) gives the same records.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { runCameraAgent, sidecarOf, chunksDir, packetLogsDir } from "../../../video/agent/agent.ts";
import { verifyChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { sha256File } from "../../../video/chunk/file-sha256.ts";
import { probeChunk } from "../../../video/chunk/chunk-probe.ts";
import { loadResumeState } from "../../../video/agent/resume-state.ts";
import { frameMd5s, makeTestSource } from "../media.ts";

const KEY = "camera-secret-key-for-tests";
let tmp: string;
let src: string;
let srcProbe: Awaited<ReturnType<typeof probeChunk>>;
let srcFrames: string[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-chunking-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "640x360", rate: 25, seconds: 30 });
  srcProbe = await probeChunk(src);
  srcFrames = await frameMd5s(src);
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

/** The checks every complete recording of the source must pass. */
async function checkRecording(chunks: ChunkMeta[], dataDir: string): Promise<void> {
  // in order, numbered 0..n-1
  expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
  // contiguous: each starts where the previous ended (wall time) and nothing is missing
  for (let i = 1; i < chunks.length; i++) {
    expect(chunks[i]!.start_ms).toBe(chunks[i - 1]!.end_ms);
    expect(chunks[i]!.gap_before_ms).toBe(0);
  }
  // the wall-time span matches the exact durations within a millisecond
  const sumDur = chunks.reduce((s, c) => s + c.duration_s, 0);
  expect(Math.abs((chunks.at(-1)!.end_ms - chunks[0]!.start_ms) / 1000 - sumDur)).toBeLessThanOrEqual(0.001);
  console.log(`chunks=${chunks.length} Σduration=${sumDur.toFixed(6)} s source=${srcProbe.duration_s} s`);
  expect(Math.abs(sumDur - srcProbe.duration_s)).toBeLessThanOrEqual(0.1);
  expect(chunks.reduce((s, c) => s + c.frames, 0)).toBe(srcProbe.frames);

  const decoded: string[] = [];
  for (const c of chunks) {
    const file = path.join(chunksDir(dataDir), c.file);
    expect(verifyChunkMeta(c, KEY)).toBe(true);
    const { sha256, bytes } = await sha256File(file);
    expect(c.sha256).toBe(sha256);
    expect(c.bytes).toBe(bytes);
    expect(JSON.parse(await readFile(sidecarOf(file), "utf8"))).toEqual(c);
    expect([c.width, c.height, c.codec]).toEqual([640, 360, "h264"]);
    // a chunk is within one frame of whole GOPs (1 s) ≥ the target, except the last
    if (c !== chunks.at(-1)) expect(c.duration_s).toBeGreaterThanOrEqual(2 - 0.04);
    decoded.push(...(await frameMd5s(file)));
  }
  // the very frames of the source, in order: no duplicate, no gap
  expect(decoded).toEqual(srcFrames);
}

describe("camera agent: file source read as fast as possible", () => {
  it("cuts contiguous, signed chunks whose durations and frames add up to the source", async () => {
    const dataDir = path.join(tmp, "whole");
    const t = performance.now();
    const res = await runCameraAgent({ camera: "cam-1", key: KEY, source: { kind: "file", path: src }, dataDir, segmentSeconds: 2 });
    console.log(`whole run: ${(performance.now() - t).toFixed(0)} ms, reason=${res.reason}`);
    expect(res.reason).toBe("ended");
    // every chunk measured from its packet log (the first one also checked against ffprobe)
    expect(res.measuredBy).toEqual({ "packet-log": res.chunks.length, ffprobe: 0 });
    await checkRecording(res.chunks, dataDir);
    expect(existsSync(packetLogsDir(dataDir))).toBe(false);
    // the packet logs' measures are ffprobe's of the chunk files
    for (const c of res.chunks) {
      const probed = await probeChunk(path.join(chunksDir(dataDir), c.file));
      expect([c.frames, c.width, c.height, c.codec]).toEqual([probed.frames, probed.width, probed.height, probed.codec]);
      expect(Math.abs(c.duration_s - probed.duration_s)).toBeLessThanOrEqual(1e-6);
    }
    const state = await loadResumeState(path.join(dataDir, "state.json"));
    expect(state?.next_seq).toBe(res.chunks.length);
    expect(state?.next_start_ms).toBe(res.chunks.at(-1)!.end_ms);
  });

  it("refuses tampered records and wrong keys", async () => {
    const dataDir = path.join(tmp, "whole");
    const meta = JSON.parse(await readFile(path.join(chunksDir(dataDir), "chunk-00000001.json"), "utf8")) as ChunkMeta;
    expect(verifyChunkMeta(meta, KEY)).toBe(true);
    expect(verifyChunkMeta(meta, KEY + "x")).toBe(false);
    const tampered: Partial<ChunkMeta>[] = [
      { seq: meta.seq + 1 }, { start_ms: meta.start_ms + 1 }, { end_ms: meta.end_ms - 1 },
      { duration_s: meta.duration_s + 0.000001 }, { frames: meta.frames - 1 }, { bytes: meta.bytes + 1 },
      { sha256: meta.sha256.replace(/^./, meta.sha256[0] === "a" ? "b" : "a") }, { camera: "cam-2" },
      { file: "chunk-00000002.mp4" }, { gap_before_ms: 5 }, { codec: "hevc" }, { width: meta.width + 1 },
    ];
    for (const change of tampered) expect(verifyChunkMeta({ ...meta, ...change }, KEY), JSON.stringify(change)).toBe(false);
    expect(verifyChunkMeta({ ...meta, extra: 1 }, KEY)).toBe(false);
  });

  it("resumes after a stop in the middle with no gap and no duplicate", async () => {
    const dataDir = path.join(tmp, "resume");
    const ac = new AbortController();
    const first = await runCameraAgent({
      camera: "cam-1", key: KEY, source: { kind: "file", path: src }, dataDir, segmentSeconds: 2, signal: ac.signal,
      onChunk: (m) => { if (m.seq === 5) ac.abort(); },
    });
    expect(first.reason).toBe("aborted");
    expect(first.chunks.map((c) => c.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    const second = await runCameraAgent({ camera: "cam-1", key: KEY, source: { kind: "file", path: src }, dataDir, segmentSeconds: 2 });
    console.log(`first run: ${first.chunks.length} chunks (${first.dropped} dropped), second run: ${second.chunks.length} chunks, reason=${second.reason}`);
    expect(second.reason).toBe("ended");
    expect(second.chunks[0]!.seq).toBe(6);
    expect(second.measuredBy.ffprobe).toBe(0);
    await checkRecording([...first.chunks, ...second.chunks], dataDir);
  });

  it("with packet logs off, ffprobe of every chunk gives the same records (as the first test's)", async () => {
    const dataDir = path.join(tmp, "ffprobe");
    const res = await runCameraAgent({ camera: "cam-1", key: KEY, source: { kind: "file", path: src }, dataDir, segmentSeconds: 2, packetLog: false });
    expect(res.reason).toBe("ended");
    expect(res.measuredBy).toEqual({ "packet-log": 0, ffprobe: res.chunks.length });
    for (const c of res.chunks) expect(verifyChunkMeta(c, KEY)).toBe(true);
    const fromLogs = await Promise.all((await readdir(chunksDir(path.join(tmp, "whole"))))
      .filter((f) => f.endsWith(".json")).sort()
      .map(async (f) => JSON.parse(await readFile(path.join(chunksDir(path.join(tmp, "whole")), f), "utf8")) as ChunkMeta));
    expect(fromLogs.length).toBeGreaterThan(0);
    const fields = (c: ChunkMeta) => [c.seq, c.file, c.duration_s, c.frames, c.width, c.height, c.codec, c.bytes, c.sha256];
    expect(res.chunks.map(fields)).toEqual(fromLogs.map(fields));
  });
});
