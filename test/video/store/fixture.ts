/**
 * Test chunks for the chunk store: an H.264 test pattern (GOP 1 s) cut into 2-s chunks by the
 * real camera agent, with the agent's clock fixed so wall times are known.
 */
import path from "node:path";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { chunksDir, runCameraAgent } from "../../../video/agent/agent.ts";
import { makeTestSource } from "../media.ts";

export const KEY = "video-store-test-camera-key";
/** 2026-01-01T00:00:00Z */
export const T0 = Date.UTC(2026, 0, 1);

export interface RecordedChunks {
  chunks: ChunkMeta[];
  fileOf: (m: ChunkMeta) => string;
}

/** Records `src` as camera `camera` into `dataDir` with the agent's clock stopped at `startMs`. */
export async function recordChunks(src: string, dataDir: string, camera: string, startMs = T0): Promise<RecordedChunks> {
  const res = await runCameraAgent({
    camera, key: KEY, source: { kind: "file", path: src }, dataDir, segmentSeconds: 2, clock: () => startMs,
  });
  if (res.reason !== "ended") throw new Error(`camera agent: ${res.reason}`);
  return { chunks: res.chunks, fileOf: (m) => path.join(chunksDir(dataDir), m.file) };
}

/** 25 frames/s, GOP 25 (1 s); veryfast has B-frames, ultrafast none. */
export async function makeSource(file: string, size: string, seconds: number, preset = "ultrafast"): Promise<void> {
  await makeTestSource(file, { size, rate: 25, seconds, gop: 25, preset });
}
