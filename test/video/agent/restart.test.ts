/**
 * Camera agent on sources paced in real time, stopped in the middle and restarted.
 *
 * What "no gap, no duplicate" means across a restart:
 * - a seekable source (a file, not looped) resumes at the exact frame after the last recorded
 *   chunk: sequence numbers, wall time and frames all continue with nothing missing or doubled
 *   (the chunk being cut at the stop is dropped and cut again, whole, by the next run);
 * - a live source (here a looped file paced in real time, standing in for RTSP) keeps moving
 *   while the agent is down: that footage is unavoidably missing. Sequence numbers still
 *   continue without a gap or duplicate, start times never overlap, and the first chunk after
 *   the restart states the missing wall time in `gap_before_ms` (= its start − the previous
 *   chunk's end), so the gap is visible, not hidden. Within a run chunks are exactly contiguous.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { chunksDir, runCameraAgent } from "../../../video/agent/agent.ts";
import { verifyChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { frameMd5s, makeTestSource } from "../media.ts";

const KEY = Buffer.from("0123456789abcdef0123456789abcdef", "hex");
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-restart-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 7 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runUntil(dataDir: string, source: Parameters<typeof runCameraAgent>[0]["source"], stopAfterSeq: number) {
  const ac = new AbortController();
  return runCameraAgent({
    camera: "cam-live", key: KEY, source, dataDir, segmentSeconds: 1, signal: ac.signal,
    onChunk: (m) => { if (m.seq >= stopAfterSeq) ac.abort(); },
  });
}

function describeRun(name: string, chunks: ChunkMeta[]): void {
  console.log(`${name}: ` + chunks.map((c) => `#${c.seq} ${c.start_ms}..${c.end_ms} (${c.duration_s}s, ${c.frames}f, gap ${c.gap_before_ms})`).join("; "));
}

describe("camera agent: restart of a real-time source", () => {
  it("live (looped) source: numbering continues, no overlap, downtime shown as gap_before_ms", async () => {
    const dataDir = path.join(tmp, "live");
    const source = { kind: "file" as const, path: src, pace: "realtime" as const, loop: true };
    const first = await runUntil(dataDir, source, 2);
    const downFrom = Date.now();
    await sleep(1000);
    const downMs = Date.now() - downFrom;
    const second = await runUntil(dataDir, source, first.state!.next_seq + 2);
    describeRun("run 1", first.chunks);
    describeRun("run 2", second.chunks);
    expect(first.reason).toBe("aborted");
    expect(second.reason).toBe("aborted");

    const all = [...first.chunks, ...second.chunks];
    expect(all.map((c) => c.seq)).toEqual(all.map((_, i) => i)); // no gap, no duplicate in numbering
    for (const c of all) expect(verifyChunkMeta(c, KEY)).toBe(true);
    for (let i = 1; i < all.length; i++) {
      const prev = all[i - 1]!, c = all[i]!;
      expect(c.start_ms).toBeGreaterThanOrEqual(prev.end_ms); // never overlapping
      expect(c.gap_before_ms).toBe(c.start_ms - prev.end_ms); // any missing time is stated
      if (c !== second.chunks[0]) expect(c.gap_before_ms).toBe(0); // within a run: contiguous
    }
    // the restart's gap shows the time the agent was down (the 1 s pause plus ffmpeg's stop and
    // start; half of it as margin for a late-reported input opening on a busy machine)
    const firstOfRun2 = second.chunks[0]!;
    console.log(`agent down ≥ ${downMs} ms, gap_before_ms of #${firstOfRun2.seq}: ${firstOfRun2.gap_before_ms} ms`);
    expect(firstOfRun2.gap_before_ms).toBeGreaterThanOrEqual(downMs / 2);
    // the chunk cut by the stop is recorded (live footage is not thrown away): shorter than 1 s
    expect(first.chunks.length).toBeGreaterThanOrEqual(4);
    expect(first.chunks.at(-1)!.duration_s).toBeLessThan(1);
  });

  it("seekable file paced in real time: stop mid-chunk, resume at the exact frame", async () => {
    const dataDir = path.join(tmp, "paced");
    const source = { kind: "file" as const, path: src, pace: "realtime" as const };
    const first = await runUntil(dataDir, source, 1);
    const second = await runCameraAgent({ camera: "cam-live", key: KEY, source, dataDir, segmentSeconds: 1 });
    describeRun("run 1", first.chunks);
    describeRun("run 2", second.chunks);
    expect(first.reason).toBe("aborted");
    expect(first.dropped).toBe(1); // the chunk being written at the stop
    expect(second.reason).toBe("ended");
    const all = [...first.chunks, ...second.chunks];
    expect(all.map((c) => c.seq)).toEqual(all.map((_, i) => i));
    for (let i = 1; i < all.length; i++) expect(all[i]!.start_ms).toBe(all[i - 1]!.end_ms);
    for (const c of all) expect(verifyChunkMeta(c, KEY)).toBe(true);
    expect(Math.abs(all.reduce((s, c) => s + c.duration_s, 0) - 7)).toBeLessThanOrEqual(0.1);
    const frames: string[] = [];
    for (const c of all) frames.push(...(await frameMd5s(path.join(chunksDir(dataDir), c.file))));
    expect(frames).toEqual(await frameMd5s(src));
    // a third start on the file recorded to its end records nothing (not the last GOP again)
    const third = await runCameraAgent({ camera: "cam-live", key: KEY, source, dataDir, segmentSeconds: 1 });
    expect(third.reason).toBe("ended");
    expect(third.chunks).toEqual([]);
    expect(third.state?.next_seq).toBe(all.length);
  });
});
