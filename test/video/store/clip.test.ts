/**
 * Clips cut from stored chunks (real camera-agent chunks of a 30-s 1280x720 H.264 pattern,
 * 2-s chunks, GOP 1 s): inside one chunk, across several, at the edges of the recording, on
 * chunk boundaries, across a gap; HD (stream copy: the source's very frames, duration within
 * one GOP of the range) and SD (480 lines, duration within 0.1 s); ffprobe reads every clip.
 * Ranges without video give typed errors (404 / 416-style).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkStore } from "../../../video/store/chunk-store.ts";
import { ClipError, cutClip, type ClipQuality } from "../../../video/store/clip.ts";
import { frameMd5s } from "../media.ts";
import { KEY, makeSource, recordChunks, type RecordedChunks } from "./fixture.ts";

const run = promisify(execFile);
const GOP_S = 1;
const FRAME_S = 0.04;
let tmp: string;
let rec: RecordedChunks;
let store: ChunkStore;
let gapStore: ChunkStore;
let srcFrames: string[];
let t0: number; // wall time of the first chunk's start
let end: number;

interface Probed { duration: number; width: number; height: number; frames: number }
async function probe(file: string): Promise<Probed> {
  const { stdout } = await run("ffprobe", [
    "-v", "error", "-select_streams", "v:0", "-count_frames",
    "-show_entries", "format=duration:stream=width,height,nb_read_frames", "-of", "json", file,
  ]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: { width: number; height: number; nb_read_frames: string }[] };
  const s = j.streams[0]!;
  return { duration: Number(j.format.duration), width: s.width, height: s.height, frames: Number(s.nb_read_frames) };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-clip-test-"));
  const src = path.join(tmp, "src.mp4");
  const t = performance.now();
  await makeSource(src, "1280x720", 30, "veryfast");
  rec = await recordChunks(src, path.join(tmp, "agent"), "cam-1");
  srcFrames = await frameMd5s(src);
  console.log(`source + ${rec.chunks.length} chunks in ${(performance.now() - t).toFixed(0)} ms`);
  store = await ChunkStore.open({ root: path.join(tmp, "store"), keyOf: () => KEY });
  gapStore = await ChunkStore.open({ root: path.join(tmp, "gap-store"), keyOf: () => KEY });
  for (const m of rec.chunks) {
    expect((await store.put(m, rec.fileOf(m))).ok).toBe(true);
    if (m.seq !== 5 && m.seq !== 6) expect((await gapStore.put(m, rec.fileOf(m))).ok).toBe(true);
  }
  t0 = rec.chunks[0]!.start_ms;
  end = rec.chunks.at(-1)!.end_ms;
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

/** Cuts, probes and checks a clip; returns its probe. */
async function checkClip(label: string, from: number, to: number, quality: ClipQuality, s = store) {
  const t = performance.now();
  const clip = await cutClip({ store: s, camera: "cam-1", from, to, quality, tmpDir: tmp });
  const ms = performance.now() - t;
  try {
    const p = await probe(clip.file);
    // requested time with video: the range within the recording, less the gaps in it
    const outside = Math.max(0, t0 - from) + Math.max(0, to - end);
    const want = (Math.min(to, end) - Math.max(from, t0) - (clip.missing_ms - outside)) / 1000;
    const covered = want;
    console.log(`${label} ${quality}: asked ${((to - from) / 1000).toFixed(3)} s, available ${covered.toFixed(3)} s, clip ${p.duration.toFixed(3)} s, ${p.frames} frames ${p.width}x${p.height}, ${clip.bytes} bytes, ${clip.chunks} chunks, partial=${clip.partial}, ${ms.toFixed(0)} ms`);
    expect(p.frames).toBeGreaterThan(0);
    expect(clip.served.to_ms).toBe(Math.min(to, end));
    if (quality === "hd") {
      expect([p.width, p.height]).toEqual([1280, 720]);
      expect(clip.reencoded).toBe(false);
      // starts on a keyframe at most one GOP before the range
      expect(clip.served.from_ms).toBeLessThanOrEqual(Math.max(from, t0));
      expect(Math.max(from, t0) - clip.served.from_ms).toBeLessThan(GOP_S * 1000);
      expect(Math.abs(p.duration - want)).toBeLessThanOrEqual(GOP_S + FRAME_S / 2);
      // the very frames of the source from that keyframe on
      const decoded = await frameMd5s(clip.file);
      const i0 = Math.round((clip.served.from_ms - t0) / 1000 / FRAME_S);
      if (clip.missing_ms === outside) {
        const mism = decoded.findIndex((f, i) => f !== srcFrames[i0 + i]);
        if (mism >= 0) console.log(`first frame differing from the source: ${mism} of ${decoded.length}`);
        expect(decoded).toEqual(srcFrames.slice(i0, i0 + decoded.length));
      }
      expect(decoded.length).toBe(p.frames);
    } else {
      expect(p.height).toBe(480);
      expect(p.width).toBe(854);
      expect(clip.served.from_ms).toBe(Math.max(from, t0));
      expect(Math.abs(p.duration - want)).toBeLessThanOrEqual(0.1);
    }
    return { clip, p, want };
  } finally {
    await clip.cleanup();
    expect(existsSync(clip.file)).toBe(false);
  }
}

describe("clips from stored chunks", () => {
  for (const quality of ["hd", "sd"] as const) {
    it(`${quality}: inside one chunk`, async () => {
      const c = rec.chunks[3]!;
      const { clip } = await checkClip("inside one chunk", c.start_ms + 1300, c.start_ms + 1900, quality);
      expect(clip.chunks).toBe(1);
      expect(clip.partial).toBe(false);
    });

    it(`${quality}: across several chunks`, async () => {
      const { clip } = await checkClip("across chunks", t0 + 3_700, t0 + 13_250, quality);
      expect(clip.chunks).toBe(6);
      expect(clip.partial).toBe(false);
    });

    it(`${quality}: on chunk boundaries`, async () => {
      const [a, b] = [rec.chunks[2]!, rec.chunks[4]!];
      const { clip } = await checkClip("chunk boundaries", a.start_ms, b.end_ms, quality);
      expect(clip.chunks).toBe(3);
      expect(clip.served.from_ms).toBe(a.start_ms);
    });

    it(`${quality}: at the edges of the recording (partly outside: clipped and said so)`, async () => {
      const head = await checkClip("start edge", t0 - 5_000, t0 + 2_500, quality);
      expect(head.clip.partial).toBe(true);
      expect(head.clip.missing_ms).toBe(5_000);
      const tail = await checkClip("end edge", end - 1_500, end + 3_000, quality);
      expect(tail.clip.partial).toBe(true);
      expect(tail.clip.missing_ms).toBe(3_000);
      const whole = await checkClip("whole recording", t0, end, quality);
      expect(whole.clip.partial).toBe(false);
      expect(whole.clip.chunks).toBe(rec.chunks.length);
    });
  }

  it("hd across a gap: the chunks on both sides, the gap reported as missing", async () => {
    const [c4, c7] = [rec.chunks[4]!, rec.chunks[7]!];
    const { clip, p } = await checkClip("across a gap", c4.start_ms + 500, c7.start_ms + 1500, "hd", gapStore);
    expect(clip.partial).toBe(true);
    expect(clip.missing_ms).toBe(rec.chunks[6]!.end_ms - rec.chunks[5]!.start_ms);
    expect(clip.chunks).toBe(2);
    expect(p.duration).toBeLessThan(4);
  });

  it("refuses ranges without video with typed errors", async () => {
    const err = async (p: Promise<unknown>) => { try { await p; } catch (e) { return e as ClipError; } throw new Error("no error"); };
    const outside = await err(cutClip({ store, camera: "cam-1", from: end + 1000, to: end + 5000, quality: "hd" }));
    expect(outside).toBeInstanceOf(ClipError);
    expect([outside.code, outside.status]).toEqual(["range_not_satisfiable", 416]);
    expect(outside.available).toEqual({ from_ms: t0, to_ms: end });
    const before = await err(cutClip({ store, camera: "cam-1", from: t0 - 9000, to: t0, quality: "sd" }));
    expect(before.code).toBe("range_not_satisfiable");
    const none = await err(cutClip({ store, camera: "cam-9", from: t0, to: t0 + 1000, quality: "hd" }));
    expect([none.code, none.status]).toEqual(["no_video", 404]);
    const inGap = await err(cutClip({ store: gapStore, camera: "cam-1", from: rec.chunks[5]!.start_ms + 100, to: rec.chunks[6]!.end_ms - 100, quality: "hd" }));
    expect([inGap.code, inGap.status]).toEqual(["no_video", 404]);
    const backwards = await err(cutClip({ store, camera: "cam-1", from: t0 + 5000, to: t0 + 5000, quality: "hd" }));
    expect([backwards.code, backwards.status]).toEqual(["invalid_range", 400]);
    const tooLong = await err(cutClip({ store, camera: "cam-1", from: t0, to: t0 + 7_200_000, quality: "hd" }));
    expect(tooLong.code).toBe("invalid_range");
    console.log("416 reason:", outside.message);
  });
});
