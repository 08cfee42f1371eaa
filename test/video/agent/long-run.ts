/**
 * Long acceptance run (a script, not part of the vitest suite): a real-time paced file of
 * --seconds (default 150) goes through the camera agent process (`footfall agent`), which is
 * stopped with SIGKILL (--kill) or SIGTERM at --stop-at seconds and started again. Prints, and
 * checks: chunks numbered without gap or duplicate, each starting where the previous ended,
 * Σ durations vs the source duration, Σ frames, every frame of the source once in order
 * (framemd5), every signature valid.
 *
 *   npx tsx test/video/agent/long-run.ts [--seconds 150] [--stop-at 70] [--segment 2] [--kill]
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { verifyChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { probeChunk } from "../../../video/chunk/chunk-probe.ts";
import { agentArgs } from "../agent-cli.ts";
import { frameMd5s, makeTestSource } from "../media.ts";

const opts = new Command()
  .option("--seconds <n>", "source duration", "150")
  .option("--stop-at <n>", "stop the agent after this many seconds", "70")
  .option("--segment <s>", "chunk length", "2")
  .option("--kill", "stop with SIGKILL (crash) instead of SIGTERM")
  .parse()
  .opts<{ seconds: string; stopAt: string; segment: string; kill?: boolean }>();

const KEY = "long-run-key";
const ROOT = path.resolve(import.meta.dirname, "../../..");
const tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-long-run-"));
const src = path.join(tmp, "src.mp4");
await makeTestSource(src, { size: "1280x720", rate: 25, seconds: Number(opts.seconds), preset: "ultrafast" });
const srcProbe = await probeChunk(src);
const dataDir = path.join(tmp, "data");

function agent() {
  const child = spawn(process.execPath, agentArgs(
    "--camera", "cam-long", "--source", src, "--realtime", "--segment", opts.segment, "--data", dataDir), {
    cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: KEY, FOOTFALL_LOG_LEVEL: "warn" }, stdio: ["ignore", "inherit", "inherit"],
  });
  return { child, exited: new Promise<number | null>((r) => child.once("exit", (c) => r(c))) };
}

const t0 = Date.now();
const first = agent();
await new Promise((r) => setTimeout(r, Number(opts.stopAt) * 1000));
first.child.kill(opts.kill ? "SIGKILL" : "SIGTERM");
await first.exited;
const pause = Date.now();
const second = agent();
const code = await second.exited;
console.log(`runs: stopped after ${((pause - t0) / 1000).toFixed(1)} s (${opts.kill ? "SIGKILL" : "SIGTERM"}), second run exit ${code}, total ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const chunksDir = path.join(dataDir, "chunks");
const metas: ChunkMeta[] = [];
for (const f of (await readdir(chunksDir)).filter((n) => n.endsWith(".json")).sort()) metas.push(JSON.parse(await readFile(path.join(chunksDir, f), "utf8")) as ChunkMeta);
const problems: string[] = [];
metas.forEach((m, i) => {
  if (m.seq !== i) problems.push(`chunk ${i} has seq ${m.seq}`);
  if (i > 0 && m.start_ms !== metas[i - 1]!.end_ms) problems.push(`#${m.seq} starts ${m.start_ms - metas[i - 1]!.end_ms} ms after the previous end`);
  if (!verifyChunkMeta(m, KEY)) problems.push(`#${m.seq} signature does not verify`);
});
const sumDur = metas.reduce((s, m) => s + m.duration_s, 0);
const sumFrames = metas.reduce((s, m) => s + m.frames, 0);
const frames: string[] = [];
for (const m of metas) frames.push(...(await frameMd5s(path.join(chunksDir, m.file))));
const srcFrames = await frameMd5s(src);
const sameFrames = frames.length === srcFrames.length && frames.every((f, i) => f === srcFrames[i]);
if (!sameFrames) problems.push("decoded frames differ from the source's");
if (Math.abs(sumDur - srcProbe.duration_s) > 0.1) problems.push("durations do not add up");
console.log(`source ${srcProbe.duration_s.toFixed(6)} s ${srcProbe.frames} frames; chunks ${metas.length}, Σduration ${sumDur.toFixed(6)} s (Δ ${(sumDur - srcProbe.duration_s).toFixed(6)}), Σframes ${sumFrames}, same frames in order: ${sameFrames}`);
console.log(problems.length ? `PROBLEMS:\n${problems.join("\n")}` : "OK: contiguous, no gap, no duplicate, all signatures valid");
await rm(tmp, { recursive: true, force: true });
process.exit(problems.length ? 1 : 0);
