/**
 * Camera agent on URL sources: an MPEG-TS file over HTTP (read to the end), and a live MPEG-TS
 * stream over TCP from a real-time publisher (ffmpeg -re), stopped after a few chunks.
 * (RTSP sources, against real RTSP servers, are in rtsp-source.test.ts.)
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCameraAgent } from "../../../video/agent/agent.ts";
import { verifyChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { probeChunk } from "../../../video/chunk/chunk-probe.ts";
import { freePort } from "../../support/ports.ts";
import { makeTestSource } from "../media.ts";

const KEY = "url-test-key";
const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
let tmp: string;
let srcTs: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-url-"));
  const mp4 = path.join(tmp, "src.mp4");
  await makeTestSource(mp4, { size: "320x180", rate: 25, seconds: 10 });
  srcTs = path.join(tmp, "src.ts");
  await promisify(execFile)(FFMPEG, ["-hide_banner", "-loglevel", "error", "-i", mp4, "-c", "copy", "-f", "mpegts", srcTs]);
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

describe("camera agent: URL sources", () => {
  it("MPEG-TS over HTTP: durations and frames add up to the source", async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "video/mp2t" });
      createReadStream(srcTs).pipe(res);
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      const dataDir = path.join(tmp, "http");
      const res = await runCameraAgent({ camera: "cam-http", key: KEY, source: { kind: "url", url: `http://127.0.0.1:${port}/src.ts` }, dataDir, segmentSeconds: 2 });
      const src = await probeChunk(srcTs);
      const sum = res.chunks.reduce((s, c) => s + c.duration_s, 0);
      console.log(`http: ${res.chunks.length} chunks, Σduration ${sum.toFixed(6)} s, source ${src.duration_s.toFixed(6)} s, reason ${res.reason}`);
      expect(res.reason).toBe("ended");
      expect(res.chunks.map((c) => c.seq)).toEqual(res.chunks.map((_, i) => i));
      for (let i = 1; i < res.chunks.length; i++) expect(res.chunks[i]!.start_ms).toBe(res.chunks[i - 1]!.end_ms);
      expect(Math.abs(sum - src.duration_s)).toBeLessThanOrEqual(0.1);
      expect(res.chunks.reduce((s, c) => s + c.frames, 0)).toBe(src.frames);
      for (const c of res.chunks) expect(verifyChunkMeta(c, KEY)).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("live MPEG-TS over TCP from a real-time publisher: contiguous chunks until stopped", async () => {
    const port = await freePort();
    const dataDir = path.join(tmp, "tcp");
    const ac = new AbortController();
    // the agent listens; the publisher (retried until the agent's ffmpeg accepts) pushes the stream
    const agent = runCameraAgent({
      camera: "cam-tcp", key: KEY, source: { kind: "url", url: `tcp://127.0.0.1:${port}?listen=1` }, dataDir, segmentSeconds: 1,
      signal: ac.signal, onChunk: (m) => { if (m.seq >= 2) ac.abort(); },
    });
    let publisher: ChildProcess | undefined;
    let agentDone = false;
    void agent.finally(() => { agentDone = true; });
    const publish = () => {
      if (agentDone) return;
      publisher = spawn(FFMPEG, ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", srcTs, "-c", "copy", "-f", "mpegts", `tcp://127.0.0.1:${port}`], { stdio: "ignore" });
      publisher.once("exit", () => { if (!ac.signal.aborted) setTimeout(publish, 200); });
    };
    setTimeout(publish, 300);
    try {
      const res = await agent;
      console.log(`tcp: ` + res.chunks.map((c) => `#${c.seq} ${c.duration_s}s ${c.frames}f ${c.width}x${c.height}`).join("; ") + `, reason ${res.reason}`);
      expect(res.reason).toBe("aborted");
      expect(res.chunks.length).toBeGreaterThanOrEqual(3);
      expect(res.chunks.map((c) => c.seq)).toEqual(res.chunks.map((_, i) => i));
      for (let i = 1; i < res.chunks.length; i++) expect(res.chunks[i]!.start_ms).toBe(res.chunks[i - 1]!.end_ms);
      for (const c of res.chunks) {
        expect(verifyChunkMeta(c, KEY)).toBe(true);
        expect([c.width, c.height, c.codec]).toEqual([320, 180, "h264"]);
        expect(c.bytes).toBe((await stat(path.join(dataDir, "chunks", c.file))).size);
      }
    } finally {
      if (publisher?.pid !== undefined && publisher.exitCode === null) publisher.kill("SIGKILL");
    }
  });
});
