/**
 * Camera agent on an RTSP source served by a real RTSP server (Debian's rtsp-server-perl, see
 * test/support/rtsp-server.ts): ffmpeg publishes a 40-s H.264 file (25 fps, GOP 1 s) in real
 * time, the agent reads rtsp://…/cam (RTP over UDP: the server has no TCP interleaving) for
 * ~12 s, is stopped, stays down ~2 s, then runs again ~6 s on the same data folder.
 * Then the agent's default transport, RTP over TCP, against GStreamer's RTSP server
 * (test/support/gst-rtsp-server.py) re-serving a live H.264 RTP stream without B-frames.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { runCameraAgent, sidecarOf, type CameraAgentResult } from "../../../video/agent/agent.ts";
import { verifyChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import type { VideoSource } from "../../../video/agent/segmenter.ts";
import {
  publishRtpToGst, publishToRtsp, startGstRtspServer, startRtspServer, type GstRtspServer, type RtspPublisher, type RtspServer,
} from "../../support/rtsp-server.ts";
import { makeTestSource } from "../media.ts";

const KEY = "rtsp-test-key";
const FPS = 25;
const SEGMENT_S = 2;
const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
let tmp: string;
let server: RtspServer | undefined;
let publisher: RtspPublisher | undefined;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-rtsp-"));
  const src = path.join(tmp, "src.mp4");
  // longer than the test's ~25 s, so the publisher does not loop during it (the chunks are
  // compared with a steady 25 fps stream; the loop point is not what this test is about)
  await makeTestSource(src, { size: "320x180", rate: FPS, seconds: 40 });
  server = await startRtspServer();
  publisher = await publishToRtsp(server, "cam", src);
}, 60_000);

afterAll(async () => {
  await publisher?.stop();
  await server?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs the agent for `ms` (from its start), then aborts it; returns the result and the clock figures. */
async function runFor(source: VideoSource, dataDir: string, ms: number): Promise<{ res: CameraAgentResult; startedAt: number; stoppedAt: number }> {
  const ac = new AbortController();
  const startedAt = Date.now();
  let stoppedAt = 0;
  const t = setTimeout(() => { stoppedAt = Date.now(); ac.abort(); }, ms);
  try {
    const res = await runCameraAgent({ camera: "cam-rtsp", key: KEY, source, dataDir, segmentSeconds: SEGMENT_S, signal: ac.signal });
    if (!stoppedAt) stoppedAt = Date.now();
    return { res, startedAt, stoppedAt };
  } finally {
    clearTimeout(t);
  }
}

/**
 * Footage recorded ≈ the time the agent's stream was open: from the first chunk's start (when
 * ffmpeg had opened the input, after process start and RTSP set-up, which take longer on a busy
 * machine) to the stop, less the wait for the first keyframe (≤ 1 GOP = 1 s) and what was in
 * flight at the stop. Never more than the run.
 */
function checkFootage(cs: ChunkMeta[], startedAt: number, stoppedAt: number): void {
  const sum = cs.reduce((s, c) => s + c.duration_s, 0);
  const open = (stoppedAt - cs[0]!.start_ms) / 1000;
  console.log(`  Σduration ${sum.toFixed(3)} s; input open ${open.toFixed(3)} s of the ${((stoppedAt - startedAt) / 1000).toFixed(3)} s run ` +
    `(set-up ${((cs[0]!.start_ms - startedAt) / 1000).toFixed(3)} s)`);
  expect(Math.abs(sum - open)).toBeLessThanOrEqual(1.5);
  expect(sum).toBeLessThanOrEqual((stoppedAt - startedAt) / 1000 + 0.5);
}

const describeChunks = (cs: ChunkMeta[]) =>
  cs.map((c) => `#${c.seq} ${c.duration_s}s ${c.frames}f gap ${c.gap_before_ms}ms`).join("; ");

/** What every recorded chunk of a run must satisfy: signed, contiguous, whole GOPs, frames at the source's rate. */
async function checkRun(
  res: CameraAgentResult, dataDir: string, firstSeq: number,
  { udp = false, serverOutput = server?.output() ?? "" }: { udp?: boolean; serverOutput?: string } = {},
): Promise<void> {
  const cs = res.chunks;
  expect(res.reason, `${res.error?.message ?? ""}\nserver:\n${serverOutput}`).toBe("aborted");
  expect(cs.map((c) => c.seq)).toEqual(cs.map((_, i) => firstSeq + i));
  for (let i = 1; i < cs.length; i++) {
    expect(cs[i]!.start_ms).toBe(cs[i - 1]!.end_ms);
    expect(cs[i]!.gap_before_ms).toBe(0);
  }
  for (const [i, c] of cs.entries()) {
    expect(verifyChunkMeta(c, KEY)).toBe(true);
    const file = path.join(dataDir, "chunks", c.file);
    expect(JSON.parse(await readFile(sidecarOf(file), "utf8"))).toEqual(c);
    expect(c.bytes).toBe((await stat(file)).size);
    expect([c.codec, c.width, c.height]).toEqual(["h264", 320, 180]);
    // chunks are cut on keyframes (GOP 1 s) at ≥ SEGMENT_S; the last one where the agent stopped
    if (i < cs.length - 1) {
      expect(c.duration_s).toBeGreaterThanOrEqual(SEGMENT_S - 0.05);
      expect(c.duration_s).toBeLessThanOrEqual(SEGMENT_S + 1.05);
    } else {
      expect(c.duration_s).toBeGreaterThan(0);
      expect(c.duration_s).toBeLessThanOrEqual(SEGMENT_S + 1.05);
    }
    // frames at the source's rate. The chunk cut by the stop can end on a P frame whose preceding
    // B frames (later in decode order) were never read: its pts span counts them, its packets do
    // not (up to the encoder's B-frame run, 3 with libx264 veryfast)
    // The first chunk of a session over UDP was seen holding 2 frames more than its pts span
    // (75 frames for 2.92 s, on a loaded machine); the likely cause: until the first RTCP sender
    // report, ffmpeg times RTP packets from the first one received, then moves them onto the
    // report's clock. It is allowed 3.
    const expected = c.duration_s * FPS;
    const slack = udp && i === 0 ? 3 : 1;
    if (i < cs.length - 1) expect(Math.abs(c.frames - expected)).toBeLessThanOrEqual(slack);
    else {
      expect(c.frames).toBeGreaterThanOrEqual(expected - 3);
      expect(c.frames).toBeLessThanOrEqual(expected + 1);
    }
  }
}

describe("camera agent: RTSP source (rtsp-server-perl, RTP over UDP)", () => {
  it("records contiguous signed chunks, and a restart continues the sequence and reports the gap", async () => {
    const dataDir = path.join(tmp, "agent");
    const source: VideoSource = { kind: "url", url: server!.readUrl("cam"), rtspTransport: "udp" };

    // run 1: ~12 s
    const r1 = await runFor(source, dataDir, 12_000);
    const run1 = (r1.stoppedAt - r1.startedAt) / 1000;
    const sum1 = r1.res.chunks.reduce((s, c) => s + c.duration_s, 0);
    const frames1 = r1.res.chunks.reduce((s, c) => s + c.frames, 0);
    console.log(`rtsp run 1: ${r1.res.chunks.length} chunks, Σduration ${sum1.toFixed(3)} s, ${frames1} frames ` +
      `(${(frames1 / sum1).toFixed(2)} fps) over a ${run1.toFixed(3)} s run: ${describeChunks(r1.res.chunks)}`);
    await checkRun(r1.res, dataDir, 0, { udp: true });
    expect(r1.res.chunks.length).toBeGreaterThanOrEqual(4);
    expect(r1.res.chunks[0]!.gap_before_ms).toBe(0);
    checkFootage(r1.res.chunks, r1.startedAt, r1.stoppedAt);
    // the chunks' wall times lie within the run
    const first1 = r1.res.chunks[0]!;
    const last1 = r1.res.chunks.at(-1)!;
    expect(first1.start_ms).toBeGreaterThanOrEqual(r1.startedAt - 1000);
    expect(last1.end_ms).toBeLessThanOrEqual(r1.stoppedAt + 1000);

    // down ~2 s, then run 2: ~6 s on the same data folder
    await new Promise((r) => setTimeout(r, 2000));
    const r2 = await runFor(source, dataDir, 6000);
    const run2 = (r2.stoppedAt - r2.startedAt) / 1000;
    const sum2 = r2.res.chunks.reduce((s, c) => s + c.duration_s, 0);
    const down = (r2.startedAt - r1.stoppedAt) / 1000;
    console.log(`rtsp run 2 (after ${down.toFixed(3)} s down): ${r2.res.chunks.length} chunks, Σduration ${sum2.toFixed(3)} s ` +
      `over a ${run2.toFixed(3)} s run: ${describeChunks(r2.res.chunks)}`);
    await checkRun(r2.res, dataDir, last1.seq + 1, { udp: true });
    expect(r2.res.chunks.length).toBeGreaterThanOrEqual(2);
    checkFootage(r2.res.chunks, r2.startedAt, r2.stoppedAt);
    const first2 = r2.res.chunks[0]!;
    // the first chunk after the restart says how much wall time is missing since the last recorded chunk
    expect(first2.start_ms).toBe(last1.end_ms + first2.gap_before_ms);
    const gapS = first2.gap_before_ms / 1000;
    console.log(`rtsp restart: gap_before_ms ${first2.gap_before_ms} (agent down ${down.toFixed(3)} s)`);
    expect(gapS).toBeGreaterThanOrEqual(down - 1);
    expect(gapS).toBeLessThanOrEqual(down + 1 + 1.5);
  }, 90_000);
});

describe("camera agent: RTSP source over TCP (GStreamer RTSP server)", () => {
  let gst: GstRtspServer | undefined;
  let rtpPublisher: RtspPublisher | undefined;
  afterAll(async () => {
    await rtpPublisher?.stop();
    await gst?.stop();
  });

  it("records contiguous signed chunks with RTP interleaved on the RTSP connection", async () => {
    // an IP camera's usual stream: H.264 without B-frames, GOP 1 s
    const src = path.join(tmp, "src-nob.mp4");
    await promisify(execFile)(FFMPEG, [
      "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", `testsrc2=size=320x180:rate=${FPS}`, "-t", "40",
      "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", String(FPS), "-keyint_min", String(FPS), "-sc_threshold", "0",
      "-pix_fmt", "yuv420p", src,
    ]);
    gst = await startGstRtspServer();
    rtpPublisher = await publishRtpToGst(gst, src);
    // another viewer keeps the shared live media running, as on a camera already streaming (the
    // agent then joins a running stream instead of waiting for the server to start it)
    const viewer = spawn(FFMPEG, ["-hide_banner", "-loglevel", "error", "-nostdin", "-rtsp_transport", "tcp", "-i", gst.readUrl(), "-c", "copy", "-f", "null", "-"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const dataDir = path.join(tmp, "agent-tcp");
      const r = await runFor({ kind: "url", url: gst.readUrl() }, dataDir, 10_000);
      const run = (r.stoppedAt - r.startedAt) / 1000;
      const sum = r.res.chunks.reduce((s, c) => s + c.duration_s, 0);
      const frames = r.res.chunks.reduce((s, c) => s + c.frames, 0);
      console.log(`rtsp/tcp: ${r.res.chunks.length} chunks, Σduration ${sum.toFixed(3)} s, ${frames} frames over a ${run.toFixed(3)} s run: ` +
        describeChunks(r.res.chunks) + `\n${r.res.command}`);
      expect(r.res.command).toContain("-rtsp_transport tcp");
      await checkRun(r.res, dataDir, 0, { serverOutput: gst.output() });
      expect(r.res.chunks.length).toBeGreaterThanOrEqual(3);
      checkFootage(r.res.chunks, r.startedAt, r.stoppedAt);
    } finally {
      viewer.kill("SIGKILL");
    }
  }, 90_000);
});
