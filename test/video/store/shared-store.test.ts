/**
 * Two API processes behind one address share one chunk store: the index in NATS KV (one real
 * nats-server), the blobs on one data folder. A chunk uploaded through one is listed and cut into
 * a clip by the other; the same chunk put to both at once is stored once; their retention jobs
 * run at the same moment without compacting or purging anything twice and without errors.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putChunk } from "../../../video/agent/upload-request.ts";
import { ChunkStore } from "../../../video/store/chunk-store.ts";
import { KvChunkIndex } from "../../../video/store/chunk-index.ts";
import { importFileIndex } from "../../../video/store/video-service.ts";
import { startApiHarness, type ApiHarness } from "../../api/api-harness.ts";
import { eventually } from "../../support/retry.ts";
import { signChunkMeta } from "../../../video/chunk/chunk-meta.ts";
import { KEY, T0, makeSource, recordChunks, type RecordedChunks } from "./fixture.ts";

const CAM = "cam-shared";
const SITE = "shared";
const DAY = 86_400_000;
let tmp: string;
let rec: RecordedChunks;
let kvRec: RecordedChunks;
let one: ApiHarness;
let two: ApiHarness;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-shared-store-"));
  const src = path.join(tmp, "src.mp4");
  await makeSource(src, "640x360", 8, "veryfast");
  rec = await recordChunks(src, path.join(tmp, "agent"), CAM, T0);
  kvRec = await recordChunks(src, path.join(tmp, "agent-kv"), "cam-kv", T0);
  one = await startApiHarness({ video: {} });
  two = await startApiHarness({ video: {}, sharing: one });
  const r = await one.admin("PUT", `/api/v1/sites/${SITE}/topology`, {
    spaces: [{ id: "lobby", name: "Lobby" }], doorways: [],
    devices: [{ id: CAM, kind: "camera", secret: KEY, sees: ["lobby"] }],
  });
  expect(r.status, await r.clone().text()).toBe(200);
  await eventually("both API processes know the camera", () => one.registry.get(CAM) !== undefined && two.registry.get(CAM) !== undefined);
}, 120_000);
afterAll(async () => {
  await two?.stop();
  await one?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("one chunk store shared by two API processes (index in NATS KV, blobs on one path)", { timeout: 120_000 }, () => {
  it("shares one data folder and one index", () => {
    expect(two.cfg.dataDir).toBe(one.cfg.dataDir);
    expect(one.video!.store.index.kind).toBe("nats-kv");
    expect(two.video!.store.index.kind).toBe("nats-kv");
  });

  it("chunks uploaded through one are listed and cut into a clip by the other", async () => {
    const [first, ...rest] = rec.chunks;
    // the same chunk to both processes at once: stored by one, a duplicate for the other
    const both = await Promise.all([one, two].map((h) => putChunk({ api: h.url, secret: KEY, meta: first!, file: rec.fileOf(first!) })));
    expect(both.map((o) => o.kind).sort()).toEqual(["duplicate", "stored"]);
    for (const m of rest) expect((await putChunk({ api: one.url, secret: KEY, meta: m, file: rec.fileOf(m) })).kind).toBe("stored");

    const list = await two.admin("GET", `/api/v1/cameras/${CAM}/chunks`);
    expect(list.status).toBe(200);
    const body = (await list.json()) as { chunks: Array<{ seq: number }> };
    expect(body.chunks.map((c) => c.seq)).toEqual(rec.chunks.map((m) => m.seq));

    const from = new Date(rec.chunks[0]!.start_ms + 500).toISOString();
    const to = new Date(rec.chunks.at(-1)!.end_ms - 500).toISOString();
    const clip = await two.admin("GET", `/api/v1/cameras/${CAM}/clip?from=${from}&to=${to}&quality=hd`);
    expect(clip.status, await clip.clone().text()).toBe(200);
    const bytes = Buffer.from(await clip.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes.subarray(4, 8).toString("latin1")).toBe("ftyp");
    expect(clip.headers.get("footfall-clip-partial")).toBe("no");
    await writeFile(path.join(tmp, "clip.mp4"), bytes);
  });

  it("a chunk purged by both at once is purged once", async () => {
    await two.video!.store.sync();
    const last = rec.chunks.at(-1)!;
    const results = await Promise.all([one.video!.store.purge(CAM, last.seq), two.video!.store.purge(CAM, last.seq)]);
    expect(results.sort()).toEqual([false, true]);
    await one.video!.store.sync();
    expect(one.video!.store.get(CAM, last.seq)).toBeUndefined();
    expect(two.video!.store.get(CAM, last.seq)).toBeUndefined();
    // put back for the retention test
    expect((await putChunk({ api: two.url, secret: KEY, meta: last, file: rec.fileOf(last) })).kind).toBe("stored");
  });

  it("retention run by both processes at once: one sweeps, the other skips; nothing twice, no errors", async () => {
    const n = rec.chunks.length;
    const lastEnd = rec.chunks.at(-1)!.end_ms;
    const rOne = one.video!.retention, rTwo = two.video!.retention;

    // 31 days: every chunk goes cold (compacted) once
    const cold = await Promise.all([rOne.sweep(lastEnd + 31 * DAY), rTwo.sweep(lastEnd + 31 * DAY)]);
    expect(cold.filter((r) => r.skipped !== undefined)).toHaveLength(1);
    expect(cold.flatMap((r) => r.failed)).toEqual([]);
    expect(cold.flatMap((r) => r.moved_to_cold).map((m) => m.seq).sort((a, b) => a - b)).toEqual(rec.chunks.map((m) => m.seq));
    await two.video!.store.sync();
    expect(two.video!.store.all(CAM).map((e) => e.tier)).toEqual(rec.chunks.map(() => "cold"));
    const blobs = two.video!.store.all(CAM).map((e) => two.video!.store.blobPath(e.blob));
    for (const b of blobs) expect(existsSync(b)).toBe(true);

    // 61 days: every chunk purged once, blobs gone
    const purged = await Promise.all([rTwo.sweep(lastEnd + 61 * DAY), rOne.sweep(lastEnd + 61 * DAY)]);
    expect(purged.filter((r) => r.skipped !== undefined)).toHaveLength(1);
    expect(purged.flatMap((r) => r.failed)).toEqual([]);
    expect(purged.flatMap((r) => r.purged)).toHaveLength(n);
    await one.video!.store.sync();
    expect(one.video!.store.all(CAM)).toEqual([]);
    expect(two.video!.store.all(CAM)).toEqual([]);
    for (const b of blobs) expect(existsSync(b)).toBe(false);

    // the lock was released: the next sweep runs
    expect((await rOne.sweep(lastEnd + 62 * DAY)).skipped).toBeUndefined();
  });

  it("a store whose index was kept in files gets it imported into NATS KV once", async () => {
    const root = path.join(tmp, "older-store");
    const older = await ChunkStore.open({ root, keyOf: () => KEY });
    for (const m of rec.chunks.slice(0, 2)) expect((await older.put({ ...m }, rec.fileOf(m))).ok).toBe(true);
    await older.purge(CAM, rec.chunks[1]!.seq);
    // reopened on the shared index (the other chunks of this camera were purged above)
    const shared = await ChunkStore.open({ root, keyOf: () => KEY, index: await KvChunkIndex.connect(one.nc) });
    try {
      expect(await importFileIndex(shared)).toBe(1);
      expect(shared.all(CAM).map((e) => e.meta.seq)).toEqual([rec.chunks[0]!.seq]);
      expect(readdirSync(root).filter((n) => n.startsWith("index"))).toEqual([expect.stringMatching(/^index\.imported-\d+$/)]);
      await two.video!.store.sync();
      expect(two.video!.store.get(CAM, rec.chunks[0]!.seq)).toBeDefined();
      expect(await importFileIndex(shared)).toBe(0);
    } finally {
      shared.close();
    }
  });

  it("the KV index answers puts as the file index does, and a store opened later (or elsewhere) sees every change", async () => {
    const root = path.join(tmp, "kv-store");
    const open = async () => ChunkStore.open({ root, keyOf: () => KEY, index: await KvChunkIndex.connect(one.nc) });
    const s1 = await open();
    try {
      for (const m of kvRec.chunks) expect(await s1.put(m, kvRec.fileOf(m))).toMatchObject({ ok: true, status: "stored" });
      const [m0, m1, m2] = [kvRec.chunks[0]!, kvRec.chunks[1]!, kvRec.chunks[2]!];
      expect(await s1.put(m2, kvRec.fileOf(m2))).toMatchObject({ ok: true, status: "duplicate" });
      const { sig: _s, ...unsigned } = m0;
      expect(await s1.put(signChunkMeta({ ...unsigned, frames: unsigned.frames + 1 }, KEY), kvRec.fileOf(m0))).toMatchObject({ ok: false, code: "conflict" });
      expect(await s1.put({ ...m1, seq: 999 }, kvRec.fileOf(m1))).toMatchObject({ ok: false, code: "bad_signature" });

      const s2 = await open();
      try {
        expect(s2.all("cam-kv")).toEqual(s1.all("cam-kv"));
        const last = kvRec.chunks.at(-1)!;
        expect(await s1.purge("cam-kv", last.seq)).toBe(true);
        await s2.sync();
        expect(s2.get("cam-kv", last.seq)).toBeUndefined();
        expect(await s2.purge("cam-kv", last.seq)).toBe(false);
        expect(existsSync(s1.blobPath(last.sha256))).toBe(false);
        await s2.setTier("cam-kv", m0.seq, "cold", 123);
        await s1.sync();
        expect(s1.get("cam-kv", m0.seq)).toMatchObject({ tier: "cold", cold_ms: 123 });
      } finally {
        s2.close();
      }
    } finally {
      s1.close();
    }
  });
});
