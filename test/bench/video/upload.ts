/**
 * Upload benchmark (a script, not a test): throughput of the camera agent's uploader
 * (video/agent/uploader.ts) sending 2-s 1080p H.264 chunks to a local chunk store server, at
 * several upload concurrencies.
 *
 *   npx tsx test/bench/video/upload.ts [--seconds 60] [--segment 2] [--concurrency 1,4,6,8] [--latency-ms 0,20] [--runs 1]
 *
 * The source (testsrc2 1920x1080 25 fps, GOP 2 s, x264 ultrafast, ~14 Mbit/s; the same file
 * chunking.ts uses) is generated once and cut into chunks once by the real agent, cached in
 * os.tmpdir()/footfall-bench/. Each run uploads every chunk into a fresh store behind
 * test/video/agent/upload-store-server.ts (the upload contract on the real ChunkStore: the body
 * streamed to disk, sha256 and signature checked, the blob written), in the same process, over
 * loopback HTTP. `--latency-ms` holds each answer that long (a stand-in for a far-away store);
 * with 0 the two cores are shared by client and server, so the figures are a floor.
 */
import { existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { runCameraAgent } from "../../../video/agent/agent.ts";
import { uploadStateFile } from "../../../video/agent/upload-state.ts";
import { Uploader } from "../../../video/agent/uploader.ts";
import { startStoreServer } from "../../video/agent/upload-store-server.ts";
import { benchCacheDir, benchSource1080p } from "./bench-source.ts";

const opts = new Command()
  .option("--seconds <n>", "source duration", "60")
  .option("--segment <s>", "chunk length (s)", "2")
  .option("--concurrency <list>", "upload concurrencies, comma-separated", "1,4,6,8")
  .option("--latency-ms <list>", "answer delays of the store (ms), comma-separated", "0,20")
  .option("--runs <n>", "repetitions of each setting", "1")
  .parse()
  .opts<{ seconds: string; segment: string; concurrency: string; latencyMs: string; runs: string }>();
const SECONDS = Number(opts.seconds);
const SEGMENT = Number(opts.segment);
const LEVELS = opts.concurrency.split(",").map(Number);
const LATENCIES = opts.latencyMs.split(",").map(Number);
const RUNS = Number(opts.runs);
const CAM = "cam-bench";
const SECRET = "bench-secret";

const cacheDir = benchCacheDir;
const src = await benchSource1080p(SECONDS);
const dataDir = path.join(cacheDir, `upload-agent-${SECONDS}s-${SEGMENT}s`);
if (!existsSync(path.join(dataDir, "state.json"))) {
  await rm(dataDir, { recursive: true, force: true });
  console.log("cutting the source into chunks with the camera agent (once) ...");
  await runCameraAgent({ camera: CAM, key: SECRET, source: { kind: "file", path: src }, dataDir, segmentSeconds: SEGMENT });
}
const chunkDir = path.join(dataDir, "chunks");
let chunks = 0, bytes = 0;
for (const f of await readdir(chunkDir)) {
  if (/^chunk-\d+\.(mp4|mkv|ts)$/.test(f)) { chunks++; bytes += (await stat(path.join(chunkDir, f))).size; }
}
console.log(`${chunks} chunks of ${SEGMENT} s, ${(bytes / 1e6).toFixed(1)} MB (${(bytes / chunks / 1e6).toFixed(2)} MB per chunk); ` +
  `${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);

interface Row { concurrency: number; latency: number; seconds: number; maxInFlight: number; stored: number }
const rows: Row[] = [];
const storeRoot = path.join(cacheDir, "upload-store");
for (let run = 0; run < RUNS; run++) {
  for (const latency of LATENCIES) {
    for (const concurrency of LEVELS) {
      await rm(storeRoot, { recursive: true, force: true });
      await rm(uploadStateFile(dataDir), { force: true });
      const server = await startStoreServer({
        root: storeRoot, secrets: { [CAM]: SECRET },
        ...(latency > 0 ? { beforeAnswer: () => new Promise<void>((r) => setTimeout(r, latency)) } : {}),
      });
      const t0 = performance.now();
      const up = await Uploader.open({ camera: CAM, secret: SECRET, api: server.url, dataDir, concurrency });
      await up.drain();
      const seconds = (performance.now() - t0) / 1000;
      await up.stop();
      const stored = server.store.all(CAM).length;
      await server.close();
      if (stored !== chunks || up.stats.failed > 0) throw new Error(`run stored ${stored} of ${chunks} chunks (${up.stats.failed} failed)`);
      rows.push({ concurrency, latency, seconds, maxInFlight: server.maxInFlight, stored });
      console.log(`  concurrency ${concurrency}, latency ${latency} ms: ${seconds.toFixed(2)} s`);
    }
  }
}
await rm(storeRoot, { recursive: true, force: true });
await rm(uploadStateFile(dataDir), { force: true });

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]!; };
console.log("\n| concurrency | store latency | chunks | MB | time (s) | MB/s | chunks/s | max in flight |");
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const latency of LATENCIES) {
  for (const concurrency of LEVELS) {
    const mine = rows.filter((r) => r.concurrency === concurrency && r.latency === latency);
    const s = median(mine.map((r) => r.seconds));
    console.log(`| ${concurrency} | ${latency} ms | ${chunks} | ${(bytes / 1e6).toFixed(1)} | ${s.toFixed(2)} | ${(bytes / 1e6 / s).toFixed(1)} | ${(chunks / s).toFixed(1)} | ${Math.max(...mine.map((r) => r.maxInFlight))} |`);
  }
}
