/**
 * Chunking benchmark (a script, not a test): how many times faster than real time a 1080p H.264
 * source is cut into chunks with stream copy (no re-encoding), by ffmpeg alone and by the whole
 * camera agent, at several chunk lengths.
 *
 *   npx tsx test/bench/video/chunking.ts [--seconds 60] [--segments 2,4] [--runs 3] [--ffprobe]
 *
 * The source (testsrc2 1920x1080 25 fps, GOP 2 s, x264 ultrafast, ~14 Mbit/s) is generated once
 * and cached in os.tmpdir()/footfall-bench/. Kinds, run in turn within each repetition (so a busy
 * moment of the machine hits all of them alike):
 * - ffmpeg:      ffmpeg stream copy + segment muxer alone (chunks handed over, nothing else);
 * - ffmpeg+log:  the same ffmpeg also writing every chunk's packet log (what the agent runs);
 * - agent:       the whole agent (packet logs, one ffprobe check per run, sha256, HMAC,
 *                sidecar and resume state written with fsync);
 * - agent-ffprobe (--ffprobe): the whole agent measuring every chunk with ffprobe instead.
 * Each row: wall time and multiple of real time per run (after one uncounted warm-up run); the
 * summary gives median (min–max).
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { runCameraAgent } from "../../../video/agent/agent.ts";
import { probeChunk } from "../../../video/chunk/chunk-probe.ts";
import { runSegmenter } from "../../../video/agent/segmenter.ts";
import { benchCacheDir, benchSource1080p } from "./bench-source.ts";

const opts = new Command()
  .option("--seconds <n>", "source duration", "60")
  .option("--segments <list>", "chunk lengths (s), comma-separated", "2,4")
  .option("--runs <n>", "repetitions of each kind", "3")
  .option("--ffprobe", "also run the agent measuring every chunk with ffprobe")
  .parse()
  .opts<{ seconds: string; segments: string; runs: string; ffprobe?: boolean }>();
const SECONDS = Number(opts.seconds), RUNS = Number(opts.runs);
const SEGMENTS = opts.segments.split(",").map(Number);

const cacheDir = benchCacheDir;
const src = await benchSource1080p(SECONDS);
const probe = await probeChunk(src);
const srcBytes = (await stat(src)).size;
console.log(`source: ${probe.width}x${probe.height} ${probe.codec}, ${probe.duration_s.toFixed(3)} s, ${probe.frames} frames, ` +
  `${(srcBytes / 1e6).toFixed(1)} MB (${((srcBytes * 8) / probe.duration_s / 1e6).toFixed(1)} Mbit/s); ` +
  `${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);

type Kind = "ffmpeg" | "ffmpeg+log" | "agent" | "agent-ffprobe";
const kinds: Kind[] = ["ffmpeg", "ffmpeg+log", "agent", ...(opts.ffprobe ? ["agent-ffprobe" as const] : [])];

async function dirBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const f of await readdir(dir)) if (f.startsWith("chunk-")) bytes += (await stat(path.join(dir, f))).size;
  return bytes;
}

/** One run of `kind`: wall ms, chunks, bytes, and a line of checks for the agent. */
async function runKind(kind: Kind, segment: number): Promise<{ ms: number; chunks: number; bytes: number; note: string }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-bench-chunking-"));
  try {
    if (kind === "ffmpeg" || kind === "ffmpeg+log") {
      const t = performance.now();
      const seg = await runSegmenter({
        source: { kind: "file", path: src }, outDir: path.join(tmp, "chunks"), segmentSeconds: segment, startNumber: 0,
        ...(kind === "ffmpeg+log" ? { packetLogDir: path.join(tmp, "packets") } : {}),
      }, async () => {});
      const ms = performance.now() - t;
      if (seg.reason !== "ended") throw new Error(`segmenter ${seg.reason}: ${seg.error?.message ?? ""}`);
      return { ms, chunks: seg.segments, bytes: await dirBytes(path.join(tmp, "chunks")), note: "" };
    }
    const t = performance.now();
    const res = await runCameraAgent({
      camera: "bench", key: "bench-key", source: { kind: "file", path: src }, dataDir: tmp, segmentSeconds: segment,
      packetLog: kind === "agent",
    });
    const ms = performance.now() - t;
    if (res.reason !== "ended") throw new Error(`agent ${res.reason}: ${res.error?.message ?? ""}`);
    const sum = res.chunks.reduce((s, c) => s + c.duration_s, 0);
    const frames = res.chunks.reduce((s, c) => s + c.frames, 0);
    const note = `Σ ${sum.toFixed(6)} s (source ${probe.duration_s.toFixed(6)}), Σ ${frames} frames (source ${probe.frames}), ` +
      `measured by packet log ${res.measuredBy["packet-log"]} / ffprobe ${res.measuredBy.ffprobe}`;
    return { ms, chunks: res.chunks.length, bytes: res.chunks.reduce((s, c) => s + c.bytes, 0), note };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// warm-up, not counted: the first ffmpeg of a process also pays fluent-ffmpeg's lookup of the
// ffmpeg binary (~0.2 s), and the source gets into the page cache
await runKind("ffmpeg", SEGMENTS[0]!);

const results = new Map<string, number[]>(); // "kind@segment" → multiples of real time
for (let r = 0; r < RUNS; r++) {
  for (const segment of SEGMENTS) {
    for (const kind of kinds) {
      const { ms, chunks, bytes, note } = await runKind(kind, segment);
      const x = probe.duration_s / (ms / 1000);
      const key = `${kind}@${segment}`;
      results.set(key, [...(results.get(key) ?? []), x]);
      console.log(`run ${r + 1} ${String(segment).padStart(2)} s ${kind.padEnd(13)} wall ${(ms / 1000).toFixed(2)} s  ×${x.toFixed(1).padStart(6)} real time  ` +
        `${chunks} chunks  ${(bytes / (ms / 1000) / 1e6).toFixed(0)} MB/s${note ? `  ${note}` : ""}`);
    }
  }
}

console.log(`\nmultiple of real time, median (min–max) of ${RUNS} runs:`);
console.log(`| chunk | ${kinds.join(" | ")} |`);
console.log(`|---|${kinds.map(() => "---").join("|")}|`);
for (const segment of SEGMENTS) {
  const cells = kinds.map((kind) => {
    const xs = [...results.get(`${kind}@${segment}`)!].sort((a, b) => a - b);
    return `×${xs[Math.floor(xs.length / 2)]!.toFixed(0)} (${xs[0]!.toFixed(0)}–${xs.at(-1)!.toFixed(0)})`;
  });
  console.log(`| ${segment} s | ${cells.join(" | ")} |`);
}
