/**
 * The camera agent process (`footfall agent`) killed with SIGKILL in the middle of a
 * real-time paced file, then started again: the second process stops the ffmpeg the first one
 * left running, drops its unrecorded chunk files and continues at the next sequence number and
 * the exact next frame: every frame of the source once, in order, all signatures valid.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { verifyChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { agentArgs } from "../agent-cli.ts";
import { frameMd5s, makeTestSource } from "../media.ts";

const KEY = "crash-test-key";
const ROOT = path.resolve(import.meta.dirname, "../../..");
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-crash-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 6 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startAgent(dataDir: string) {
  // one process (the tsx CLI would put a second node process in between): SIGKILL reaches the agent
  const child = spawn(process.execPath, agentArgs(
    "--camera", "cam-crash", "--source", src, "--realtime", "--segment", "1", "--data", dataDir), {
    cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: KEY, FOOTFALL_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, output: () => out };
}

describe("camera agent process: SIGKILL and restart", () => {
  it("continues with no gap and no duplicate", async () => {
    const dataDir = path.join(tmp, "data");
    const chunks = path.join(dataDir, "chunks");
    const first = startAgent(dataDir);
    for (let i = 0; i < 300 && !existsSync(path.join(chunks, "chunk-00000002.json")); i++) await sleep(50);
    expect(existsSync(path.join(chunks, "chunk-00000002.json")), first.output()).toBe(true);
    first.child.kill("SIGKILL");
    await first.exited;
    const leftPid = JSON.parse(await readFile(path.join(dataDir, "ffmpeg.pid"), "utf8")) as { pid: number };

    const second = startAgent(dataDir);
    expect(await second.exited, second.output()).toBe(0);
    console.log(second.output().split("\n").filter((l) => /stopped the ffmpeg|removed unrecorded|camera agent stopped/.test(l)).join("\n"));
    expect(second.output()).toContain("stopped the ffmpeg of a previous run");
    // the orphaned ffmpeg is gone (or a zombie waiting for init to reap it)
    const stat = existsSync(`/proc/${leftPid.pid}/stat`) ? await readFile(`/proc/${leftPid.pid}/stat`, "utf8").catch(() => "") : "";
    expect(stat === "" || / Z /.test(stat)).toBe(true);

    const metas: ChunkMeta[] = [];
    for (const f of (await readdir(chunks)).filter((n) => n.endsWith(".json")).sort()) {
      metas.push(JSON.parse(await readFile(path.join(chunks, f), "utf8")) as ChunkMeta);
    }
    console.log(metas.map((m) => `#${m.seq} ${m.start_ms}..${m.end_ms} ${m.frames}f`).join("; "));
    expect(metas.map((m) => m.seq)).toEqual(metas.map((_, i) => i));
    expect((await readdir(chunks)).filter((n) => n.endsWith(".mp4")).length).toBe(metas.length);
    for (let i = 1; i < metas.length; i++) expect(metas[i]!.start_ms).toBe(metas[i - 1]!.end_ms);
    const frames: string[] = [];
    for (const m of metas) {
      expect(verifyChunkMeta(m, KEY)).toBe(true);
      frames.push(...(await frameMd5s(path.join(chunks, m.file))));
    }
    expect(frames).toEqual(await frameMd5s(src));
  });
});
