/**
 * Chunking benchmark (a script, not a test): how many times faster than real time the camera
 * agent cuts a 1080p H.264 source into chunks with stream copy (no re-encoding).
 *
 *   npx tsx test/bench/chunking.ts [--seconds 60] [--segment 2] [--runs 3]
 *
 * The source (testsrc2 1920x1080 25 fps, GOP 2 s, x264 ultrafast) is generated once and cached
 * in os.tmpdir()/footfall-bench/. Two figures per run:
 * - segmenter: ffmpeg stream copy + segment muxer alone (chunks handed over, nothing else);
 * - agent: the whole agent (ffprobe of every chunk, sha256, HMAC, sidecar, resume state).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { runCameraAgent } from "../../camera-agent/agent.ts";
import { probeChunk } from "../../camera-agent/chunk-probe.ts";
import { runSegmenter } from "../../camera-agent/segmenter.ts";
import { makeTestSource } from "../camera-agent/media.ts";

const opts = new Command()
  .option("--seconds <n>", "source duration", "60")
  .option("--segment <s>", "chunk length", "2")
  .option("--runs <n>", "runs of each kind", "3")
  .parse()
  .opts<{ seconds: string; segment: string; runs: string }>();
const SECONDS = Number(opts.seconds), SEGMENT = Number(opts.segment), RUNS = Number(opts.runs);

const cacheDir = path.join(os.tmpdir(), "footfall-bench");
await mkdir(cacheDir, { recursive: true });
const src = path.join(cacheDir, `src-1080p-${SECONDS}s.mp4`);
if (!existsSync(src)) {
  const t = performance.now();
  console.log(`generating ${src} (x264 ultrafast, once) ...`);
  await makeTestSource(src, { size: "1920x1080", rate: 25, seconds: SECONDS, gop: 50, preset: "ultrafast" });
  console.log(`  took ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const probe = await probeChunk(src);
const srcBytes = (await stat(src)).size;
console.log(`source: ${probe.width}x${probe.height} ${probe.codec}, ${probe.duration_s.toFixed(3)} s, ${probe.frames} frames, ${(srcBytes / 1e6).toFixed(1)} MB (${((srcBytes * 8) / probe.duration_s / 1e6).toFixed(1)} Mbit/s)`);

function report(kind: string, ms: number, chunks: number, bytes: number): void {
  const s = ms / 1000;
  console.log(
    `${kind.padEnd(9)} wall ${s.toFixed(2)} s  ×${(probe.duration_s / s).toFixed(1)} real time  ` +
      `${chunks} chunks  ${(bytes / s / 1e6).toFixed(0)} MB/s`,
  );
}

for (let r = 0; r < RUNS; r++) {
  const out = await mkdtemp(path.join(os.tmpdir(), "footfall-bench-chunks-"));
  let t = performance.now();
  const seg = await runSegmenter({ source: { kind: "file", path: src }, outDir: out, segmentSeconds: SEGMENT, startNumber: 0 }, async () => {});
  const segMs = performance.now() - t;
  let bytes = 0;
  for (const f of await readdir(out)) bytes += (await stat(path.join(out, f))).size;
  report("segmenter", segMs, seg.segments, bytes);
  await rm(out, { recursive: true, force: true });

  const dataDir = await mkdtemp(path.join(os.tmpdir(), "footfall-bench-agent-"));
  t = performance.now();
  const agent = await runCameraAgent({ camera: "bench", key: "bench-key", source: { kind: "file", path: src }, dataDir, segmentSeconds: SEGMENT });
  const agentMs = performance.now() - t;
  const sum = agent.chunks.reduce((s, c) => s + c.duration_s, 0);
  report("agent", agentMs, agent.chunks.length, agent.chunks.reduce((s, c) => s + c.bytes, 0));
  console.log(`          Σ chunk durations ${sum.toFixed(6)} s (source ${probe.duration_s.toFixed(6)} s), Σ frames ${agent.chunks.reduce((s, c) => s + c.frames, 0)}`);
  await rm(dataDir, { recursive: true, force: true });
}
