/**
 * Chunk store: puts verify sha256 and signature, duplicates are no-ops, conflicts are refused
 * with a reason, queries return the overlapping chunks in order, the index survives a reopen
 * (also with a torn last line); signed chunk URLs: valid, expired, tampered.
 */
import { appendFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { signChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { sha256File } from "../../../video/chunk/file-sha256.ts";
import { ChunkStore, utcDay } from "../../../video/store/chunk-store.ts";
import { parseChunkUrl, signChunkUrl, verifyChunkUrl } from "../../../video/store/signed-url.ts";
import { KEY, makeSource, recordChunks, type RecordedChunks } from "./fixture.ts";

let tmp: string;
let rec: RecordedChunks;
const keyOf = (camera: string) => (camera === "cam-1" ? KEY : undefined);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-store-"));
  const src = path.join(tmp, "src.mp4");
  await makeSource(src, "320x240", 12);
  rec = await recordChunks(src, path.join(tmp, "agent"), "cam-1");
  console.log(`chunks=${rec.chunks.length} span=${rec.chunks[0]!.start_ms}..${rec.chunks.at(-1)!.end_ms}`);
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

async function listBlobs(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(path.join(root, "blobs"))) for (const f of await readdir(path.join(root, "blobs", d))) out.push(d + f);
  return out.sort();
}

describe("chunk store", () => {
  it("stores signed chunks content-addressed and answers duplicates as no-ops", async () => {
    const root = path.join(tmp, "s1");
    const store = await ChunkStore.open({ root, keyOf });
    for (const m of rec.chunks) {
      const r = await store.put(m, rec.fileOf(m));
      expect(r).toMatchObject({ ok: true, status: "stored" });
    }
    // blobs are named by the sha256 of their bytes
    const blobs = await listBlobs(root);
    expect(blobs).toEqual(rec.chunks.map((m) => m.sha256).sort());
    for (const m of rec.chunks) expect((await sha256File(store.blobPath(m.sha256))).sha256).toBe(m.sha256);
    // same record again: no-op
    const again = await store.put(rec.chunks[2], rec.fileOf(rec.chunks[2]!));
    expect(again).toMatchObject({ ok: true, status: "duplicate" });
    expect(await listBlobs(root)).toEqual(blobs);
    expect(store.all("cam-1").map((e) => e.meta.seq)).toEqual(rec.chunks.map((m) => m.seq));
    // index: one JSON-lines file per UTC day
    const days = [...new Set(rec.chunks.map((m) => `${utcDay(m.start_ms)}.jsonl`))].sort();
    expect((await readdir(path.join(root, "index", "cam-1"))).sort()).toEqual(days);
  });

  it("refuses conflicting, unsigned, mis-hashed, unknown-camera and invalid records with reasons", async () => {
    const root = path.join(tmp, "s2");
    const store = await ChunkStore.open({ root, keyOf });
    const [m0, m1] = [rec.chunks[0]!, rec.chunks[1]!];
    expect((await store.put(m0, rec.fileOf(m0))).ok).toBe(true);

    // a different (validly signed) record for the same camera and seq
    const { sig: _s, ...unsigned } = m0;
    const other = signChunkMeta({ ...unsigned, frames: unsigned.frames + 1 }, KEY);
    const conflict = await store.put(other, rec.fileOf(m0));
    expect(conflict).toMatchObject({ ok: false, code: "conflict" });
    console.log("conflict:", !conflict.ok && conflict.reason);

    // signature that does not verify: tampered field, wrong key
    const tampered = { ...m1, end_ms: m1.end_ms + 1 };
    expect(await store.put(tampered, rec.fileOf(m1))).toMatchObject({ ok: false, code: "bad_signature" });
    const { sig: _s1, ...u1 } = m1;
    expect(await store.put(signChunkMeta(u1, "another-key"), rec.fileOf(m1))).toMatchObject({ ok: false, code: "bad_signature" });

    // file whose sha256 is not the record's (chunk 2's bytes under chunk 1's record)
    const mism = await store.put(m1, rec.fileOf(rec.chunks[2]!));
    expect(mism).toMatchObject({ ok: false, code: "hash_mismatch" });
    console.log("hash mismatch:", !mism.ok && mism.reason);

    // unknown camera, invalid record
    const cam2 = signChunkMeta({ ...u1, camera: "cam-2" }, KEY);
    expect(await store.put(cam2, rec.fileOf(m1))).toMatchObject({ ok: false, code: "unknown_camera" });
    expect(await store.put({ ...m1, seq: -1 }, rec.fileOf(m1))).toMatchObject({ ok: false, code: "invalid_record" });

    // nothing of the refused puts stayed: one chunk, one blob, no temp files
    expect(store.all("cam-1").map((e) => e.meta.seq)).toEqual([0]);
    expect(await listBlobs(root)).toEqual([m0.sha256]);
    // and the right record is still accepted
    expect(await store.put(m1, rec.fileOf(m1))).toMatchObject({ ok: true, status: "stored" });
  });

  it("queries the chunks overlapping [from, to) in order", async () => {
    const store = await ChunkStore.open({ root: path.join(tmp, "s1"), keyOf });
    const c = rec.chunks;
    const seqs = (from: number, to: number) => store.query("cam-1", from, to).map((e) => e.meta.seq);
    expect(seqs(c[0]!.start_ms - 10_000, c.at(-1)!.end_ms + 10_000)).toEqual(c.map((m) => m.seq));
    expect(seqs(c[1]!.start_ms + 100, c[1]!.start_ms + 200)).toEqual([1]);
    // `to` is exclusive, `from` inclusive
    expect(seqs(c[1]!.start_ms, c[3]!.start_ms)).toEqual([1, 2]);
    expect(seqs(c[1]!.end_ms - 1, c[3]!.start_ms + 1)).toEqual([1, 2, 3]);
    expect(seqs(c.at(-1)!.end_ms, c.at(-1)!.end_ms + 5000)).toEqual([]);
    expect(seqs(c[0]!.start_ms - 5000, c[0]!.start_ms)).toEqual([]);
    expect(store.query("cam-x", 0, Date.now())).toEqual([]);
  });

  it("rebuilds the index on reopen and skips a torn last line", async () => {
    const root = path.join(tmp, "s1");
    const first = await ChunkStore.open({ root, keyOf });
    const want = first.all("cam-1");
    const idx = path.join(root, "index", "cam-1", `${utcDay(rec.chunks.at(-1)!.start_ms)}.jsonl`);
    await appendFile(idx, '{"meta":{"v":1,"camera":"cam-1","se'); // crash mid-write
    const warnings: unknown[] = [];
    const log = { warn: (o: unknown) => warnings.push(o) } as unknown as import("pino").Logger;
    const reopened = await ChunkStore.open({ root, keyOf, log });
    expect(reopened.all("cam-1")).toEqual(want);
    expect(warnings.length).toBe(1);
    // a purge is remembered across a reopen; compaction rewrites the index without it
    // (the last chunk: its line goes to the file that had the torn line)
    const lastSeq = rec.chunks.at(-1)!.seq;
    expect(await reopened.purge("cam-1", lastSeq)).toBe(true);
    expect(await reopened.purge("cam-1", lastSeq)).toBe(false);
    const third = await ChunkStore.open({ root, keyOf });
    expect(third.all("cam-1").map((e) => e.meta.seq)).toEqual(want.slice(0, -1).map((e) => e.meta.seq));
    await third.compactIndex("cam-1");
    const dayOf = utcDay(rec.chunks.at(-1)!.start_ms);
    const lines = (await readFile(idx, "utf8")).trim().split("\n");
    expect(lines.length).toBe(want.slice(0, -1).filter((e) => utcDay(e.meta.start_ms) === dayOf).length);
    expect((await ChunkStore.open({ root, keyOf })).all("cam-1")).toEqual(third.all("cam-1"));
    expect(await listBlobs(root)).toEqual(want.slice(0, -1).map((e) => e.blob).sort());
  });
});

describe("signed chunk URLs", () => {
  const secret = "url-secret";
  const sha = "ab".repeat(32);
  const now = Date.UTC(2026, 0, 1, 12);

  it("verifies a fresh URL and refuses it after expiry", () => {
    const u = signChunkUrl({ sha256: sha, secret, nowMs: now, ttlSeconds: 600, prefix: "/api/v1" });
    expect(u.url.startsWith(`/api/v1/chunks/${sha}?exp=`)).toBe(true);
    const parts = parseChunkUrl(u.url);
    expect(verifyChunkUrl(parts, secret, now)).toEqual({ ok: true, sha256: sha, exp: u.exp });
    expect(verifyChunkUrl(parts, secret, now + 599_000).ok).toBe(true);
    expect(verifyChunkUrl(parts, secret, now + 600_000)).toMatchObject({ ok: false, reason: "expired" });
  });

  it("refuses tampered URLs and other secrets", () => {
    const u = signChunkUrl({ sha256: sha, secret, nowMs: now });
    const p = parseChunkUrl(u.url);
    expect(verifyChunkUrl({ ...p, sha256: "cd".repeat(32) }, secret, now)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verifyChunkUrl({ ...p, exp: String(u.exp + 3600) }, secret, now)).toMatchObject({ ok: false, reason: "bad_signature" });
    const flipped = (p.sig![0] === "0" ? "1" : "0") + p.sig!.slice(1);
    expect(verifyChunkUrl({ ...p, sig: flipped }, secret, now)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verifyChunkUrl(p, "other-secret", now)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verifyChunkUrl({ ...p, exp: "soon" }, secret, now)).toMatchObject({ ok: false, reason: "malformed" });
    expect(verifyChunkUrl({ ...p, sig: null }, secret, now)).toMatchObject({ ok: false, reason: "malformed" });
    expect(verifyChunkUrl({ ...p, sha256: "../etc/passwd" }, secret, now)).toMatchObject({ ok: false, reason: "malformed" });
  });
});
