/**
 * The chunk metadata record: built from a chunk file (sha256, size) and its probe, signed with
 * the camera's key (HMAC-SHA256 over contracts/video.ts' canonical serialisation), and verified.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import path from "node:path";
import { ChunkMeta, ChunkMetaUnsigned, canonicalChunkMeta } from "../../contracts/video.ts";
import type { ChunkProbe } from "./chunk-probe.ts";

export type CameraKey = string | Buffer;

export function signatureOf(m: ChunkMetaUnsigned, key: CameraKey): string {
  return createHmac("sha256", key).update(canonicalChunkMeta(m)).digest("hex");
}

/** Validates the unsigned record and adds `sig`. */
export function signChunkMeta(m: ChunkMetaUnsigned, key: CameraKey): ChunkMeta {
  const unsigned = ChunkMetaUnsigned.parse(m);
  return { ...unsigned, sig: signatureOf(unsigned, key) };
}

/** True when `record` is a valid ChunkMeta whose `sig` matches the camera's key. */
export function verifyChunkMeta(record: unknown, key: CameraKey): boolean {
  const parsed = ChunkMeta.safeParse(record);
  if (!parsed.success) return false;
  const { sig, ...unsigned } = parsed.data;
  const want = Buffer.from(signatureOf(unsigned, key), "hex");
  const got = Buffer.from(sig, "hex");
  return want.length === got.length && timingSafeEqual(want, got);
}

export interface ChunkPlacement {
  camera: string;
  seq: number;
  /** wall time (epoch ms) where this chunk starts and ends */
  start_ms: number;
  end_ms: number;
  gap_before_ms: number;
}

/** Builds and signs the record from a chunk's probe and hash. */
export function chunkMetaOf(
  file: string, probe: ChunkProbe, { sha256, bytes }: { sha256: string; bytes: number }, place: ChunkPlacement, key: CameraKey,
): ChunkMeta {
  return signChunkMeta({
    v: 1,
    camera: place.camera,
    seq: place.seq,
    file: path.basename(file),
    start_ms: place.start_ms,
    end_ms: place.end_ms,
    gap_before_ms: place.gap_before_ms,
    duration_s: Math.round(probe.duration_s * 1e6) / 1e6,
    frames: probe.frames,
    width: probe.width,
    height: probe.height,
    codec: probe.codec,
    bytes,
    sha256,
  }, key);
}
