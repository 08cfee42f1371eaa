import { z } from "zod";
import { DeviceId } from "./ids.ts";
import { MAX_TS, MIN_TS } from "./time.ts";

/**
 * The video chunk contract: the metadata record of one chunk cut by a camera agent
 * (video/agent/). The agent announces it (later over MQTT) and the chunk store keeps it next to
 * the chunk file.
 *
 * A camera's chunks are numbered `seq` 0, 1, 2, ... without gaps, also across the agent's
 * restarts. `start_ms` / `end_ms` are wall time (epoch ms) on the agent's clock: the clock when
 * the stream started plus the exact durations of the chunks before, so within one run a chunk
 * starts exactly where the previous one ended. `gap_before_ms` says honestly how much wall time
 * is missing before this chunk (0 within a run; after a restart of a live source, the time the
 * agent was down). `sig` is HMAC-SHA256 (hex) with the camera's key over `canonicalChunkMeta`
 * of every other field.
 */

const epochMs = z.number().int().min(MIN_TS).max(MAX_TS);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");

export const ChunkMetaUnsigned = z.strictObject({
  v: z.literal(1),
  camera: DeviceId,
  seq: z.number().int().min(0),
  /** chunk file name (no folder), e.g. chunk-00000042.mp4 */
  file: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "file must be a plain file name"),
  start_ms: epochMs,
  end_ms: epochMs,
  /** wall time missing between the previous chunk's end and this chunk's start (ms, ≥ 0) */
  gap_before_ms: z.number().int().min(0),
  /** exact duration from the video packets' timestamps, seconds (µs precision) */
  duration_s: z.number().min(0).max(86_400),
  frames: z.number().int().min(0),
  width: z.number().int().min(1).max(16_384),
  height: z.number().int().min(1).max(16_384),
  codec: z.string().regex(/^[a-z0-9_]{1,32}$/, "codec must be an ffmpeg codec name"),
  bytes: z.number().int().min(0),
  sha256: hex64,
}).refine((m) => m.end_ms >= m.start_ms, { message: "end_ms must not be before start_ms", path: ["end_ms"] });
export type ChunkMetaUnsigned = z.output<typeof ChunkMetaUnsigned>;

export const ChunkMeta = z.strictObject({
  ...ChunkMetaUnsigned.shape,
  sig: hex64,
}).refine((m) => m.end_ms >= m.start_ms, { message: "end_ms must not be before start_ms", path: ["end_ms"] });
export type ChunkMeta = z.output<typeof ChunkMeta>;

/** The fields `sig` covers, in this order. */
export const CHUNK_META_SIGNED_FIELDS = [
  "v", "camera", "seq", "file", "start_ms", "end_ms", "gap_before_ms",
  "duration_s", "frames", "width", "height", "codec", "bytes", "sha256",
] as const satisfies readonly (keyof ChunkMetaUnsigned)[];

/**
 * Canonical serialisation for the signature: a JSON array of the signed fields' values in
 * CHUNK_META_SIGNED_FIELDS order (no key order or whitespace questions). duration_s is
 * written with 6 decimals, so other languages reproduce it byte for byte.
 */
export function canonicalChunkMeta(m: ChunkMetaUnsigned): string {
  return JSON.stringify(CHUNK_META_SIGNED_FIELDS.map((k) => (k === "duration_s" ? m.duration_s.toFixed(6) : m[k])));
}
