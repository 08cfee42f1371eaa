/**
 * Retention with a fake clock: warm → cold (compacted: smaller, half height, still plays, same
 * frame count) → purged on schedule (defaults 30 + 30 days); a policy change through
 * setCameraPolicy / setSitePolicy takes effect at the next sweep without reopening; per-site
 * quotas purge the oldest chunks first; the store reopened shows the same state; a clip across
 * the warm/cold boundary still plays; the scheduled job sweeps on its own.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeChunk } from "../../../video/chunk/chunk-probe.ts";
import { sha256File } from "../../../video/chunk/file-sha256.ts";
import { ChunkStore } from "../../../video/store/chunk-store.ts";
import { cutClip } from "../../../video/store/clip.ts";
import { Retention, startRetentionJob, type SweepReport } from "../../../video/store/retention.ts";
import { KEY, T0, makeSource, recordChunks, type RecordedChunks } from "./fixture.ts";

const DAY = 86_400_000;
let tmp: string;
let camA: RecordedChunks;
let camB: RecordedChunks; // the same source as cam-a: the same blobs (stored once)
let camC: RecordedChunks; // another source

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-retention-"));
  const src = path.join(tmp, "src.mp4");
  await makeSource(src, "640x360", 8, "veryfast");
  camA = await recordChunks(src, path.join(tmp, "agent-a"), "cam-a", T0);
  camB = await recordChunks(src, path.join(tmp, "agent-b"), "cam-b", T0 + 60_000);
  const src2 = path.join(tmp, "src2.mp4");
  await makeSource(src2, "640x352", 8, "veryfast");
  camC = await recordChunks(src2, path.join(tmp, "agent-c"), "cam-c", T0 + 3_000); // interleaved with cam-a
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

async function storeWith(name: string, ...recs: RecordedChunks[]): Promise<ChunkStore> {
  const store = await ChunkStore.open({ root: path.join(tmp, name), keyOf: () => KEY });
  for (const r of recs) for (const m of r.chunks) expect((await store.put(m, r.fileOf(m))).ok).toBe(true);
  return store;
}
const summary = (r: SweepReport) => ({ cold: r.moved_to_cold.length, purged: r.purged.length, failed: r.failed.length });

describe("retention", () => {
  it("moves chunks warm → cold (compacted) → purged on the default schedule", async () => {
    const store = await storeWith("defaults", camA);
    const ret = await Retention.open({ store });
    const n = camA.chunks.length;
    const lastEnd = camA.chunks.at(-1)!.end_ms;
    const firstEnd = camA.chunks[0]!.end_ms;
    expect(ret.effective("cam-a")).toMatchObject({ warm_days: 30, cold_days: 30, site: "default" });

    expect(summary(await ret.sweep(lastEnd + 29 * DAY))).toEqual({ cold: 0, purged: 0, failed: 0 });
    // at 30 days after its end a chunk goes cold: here the first chunks but not the last
    const partial = await ret.sweep(firstEnd + 30 * DAY);
    expect(partial.moved_to_cold.map((m) => m.seq)).toEqual(camA.chunks.filter((m) => m.end_ms <= firstEnd).map((m) => m.seq));
    // a clip across the warm/cold boundary: re-encoded at the larger height, plays
    const mixed = await cutClip({ store, camera: "cam-a", from: camA.chunks[0]!.start_ms + 1000, to: camA.chunks[1]!.end_ms - 500, quality: "hd" });
    const mp = await probeChunk(mixed.file);
    console.log(`warm+cold clip: ${mp.duration_s} s ${mp.width}x${mp.height}, ${mp.frames} frames, served ${mixed.served.from_ms - camA.chunks[0]!.start_ms}..${mixed.served.to_ms - camA.chunks[0]!.start_ms} ms`);
    expect(mixed.reencoded).toBe(true);
    expect(mp.height).toBe(360);
    expect(Math.abs(mp.duration_s - (mixed.served.to_ms - mixed.served.from_ms) / 1000)).toBeLessThanOrEqual(0.1);
    await mixed.cleanup();
    const r1 = await ret.sweep(lastEnd + 30 * DAY);
    expect(r1.moved_to_cold.length + partial.moved_to_cold.length).toBe(n);
    expect(r1.failed).toEqual([]);

    let before = 0, after = 0;
    for (const m of camA.chunks) {
      const e = store.get("cam-a", m.seq)!;
      expect(e.tier).toBe("cold");
      expect(e.blob).not.toBe(m.sha256);
      expect(existsSync(store.blobPath(m.sha256))).toBe(false); // old blob removed
      const file = store.blobPath(e.blob);
      expect((await sha256File(file)).sha256).toBe(e.blob);
      const p = await probeChunk(file); // still plays: ffprobe reads every frame
      expect(p.frames).toBe(m.frames);
      expect(Math.abs(p.duration_s - m.duration_s)).toBeLessThanOrEqual(0.05);
      expect([p.width, p.height]).toEqual([e.width, e.height]);
      expect(e.height).toBe(m.height / 2);
      before += m.bytes;
      after += e.blob_bytes;
    }
    console.log(`compaction: ${before} → ${after} bytes (${((100 * after) / before).toFixed(1)} %) for ${n} chunks`);
    expect(after).toBeLessThan(before);

    // the cold tier survives a reopen; a clip of cold chunks plays
    const reopened = await ChunkStore.open({ root: store.root, keyOf: () => KEY });
    expect(reopened.all("cam-a")).toEqual(store.all("cam-a"));
    const clip = await cutClip({ store, camera: "cam-a", from: camA.chunks[0]!.start_ms + 500, to: lastEnd - 500, quality: "hd" });
    const cp = await probeChunk(clip.file);
    console.log(`cold clip: ${cp.duration_s} s ${cp.width}x${cp.height}`);
    expect(cp.height).toBe(180);
    await clip.cleanup();

    expect(summary(await ret.sweep(lastEnd + 59 * DAY))).toEqual({ cold: 0, purged: 0, failed: 0 });
    const r2 = await ret.sweep(lastEnd + 60 * DAY);
    expect(r2.purged.map((p) => [p.seq, p.reason])).toEqual(camA.chunks.map((m) => [m.seq, "expired"]));
    expect(store.all("cam-a")).toEqual([]);
    const blobsLeft = [...camA.chunks.map((m) => m.sha256), ...reopened.all("cam-a").map((e) => e.blob)].filter((b) => existsSync(store.blobPath(b)));
    expect(blobsLeft).toEqual([]);
    expect((await ChunkStore.open({ root: store.root, keyOf: () => KEY })).all("cam-a")).toEqual([]);
  });

  it("applies a changed camera or site policy at the next sweep, without reopening", async () => {
    const store = await storeWith("policy", camA, camB);
    const ret = await Retention.open({ store, siteOf: () => "mall" });
    const now = T0 + 10 * DAY;
    expect(summary(await ret.sweep(now))).toEqual({ cold: 0, purged: 0, failed: 0 });

    await ret.setCameraPolicy("cam-a", { warm_days: 5 });
    const r1 = await ret.sweep(now);
    expect(r1.moved_to_cold.map((m) => m.camera)).toEqual(camA.chunks.map(() => "cam-a"));
    expect(store.all("cam-b").every((e) => e.tier === "warm")).toBe(true);
    // written atomically to the store's root, with the override
    const file = JSON.parse(await readFile(path.join(store.root, "retention.json"), "utf8")) as { cameras: Record<string, unknown> };
    expect(file.cameras["cam-a"]).toEqual({ warm_days: 5 });

    // the site's cold period shrinks: cam-a (warm 5 from its override + cold 4 from the site) is purged
    await ret.setSitePolicy("mall", { cold_days: 4 });
    expect(ret.effective("cam-a")).toMatchObject({ warm_days: 5, cold_days: 4, source: { warm_days: "camera", cold_days: "site" } });
    const r2 = await ret.sweep(now);
    expect(r2.purged.map((p) => p.camera)).toEqual(camA.chunks.map(() => "cam-a"));
    expect(store.all("cam-a")).toEqual([]);
    expect(store.all("cam-b").length).toBe(camB.chunks.length);
    // cam-b's chunks have the same bytes as cam-a's: the blobs they share were kept
    expect(camB.chunks.map((m) => m.sha256)).toEqual(camA.chunks.map((m) => m.sha256));
    for (const m of camB.chunks) expect((await sha256File(store.blobPath(m.sha256))).sha256).toBe(m.sha256);

    // a change written by another process (another Retention on the same store) counts too
    const other = await Retention.open({ store, siteOf: () => "mall" });
    await other.setSitePolicy("mall", { warm_days: 1, cold_days: 30 });
    const r3 = await ret.sweep(now);
    expect(r3.moved_to_cold.map((m) => m.camera)).toEqual(camB.chunks.map(() => "cam-b"));
    await expect(ret.setCameraPolicy("cam-a", { warm_days: -1 })).rejects.toThrow();
  });

  it("purges the oldest chunks of a site over its quota first, and says so", async () => {
    const store = await storeWith("quota", camA, camC);
    const ret = await Retention.open({ store, siteOf: (c) => (c === "cam-a" || c === "cam-c" ? "mall" : "other") });
    const all = [...camA.chunks, ...camC.chunks].sort((a, b) => a.start_ms - b.start_ms || a.camera.localeCompare(b.camera));
    const total = all.reduce((s, m) => s + m.bytes, 0);
    const quota = Math.floor(total * 0.6);
    await ret.setSitePolicy("mall", { quota_bytes: quota });
    const r = await ret.sweep(T0 + DAY);
    console.log(`quota: ${total} bytes → quota ${quota}: purged ${r.purged.length} chunks, ${JSON.stringify(r.quotas)}`);
    expect(r.quotas).toEqual([{ site: "mall", quota_bytes: quota, bytes_before: total, bytes_after: expect.any(Number) as number, over: true }]);
    // exactly the oldest ones, until the site fits
    let bytes = total, k = 0;
    while (bytes > quota) bytes -= all[k++]!.bytes;
    expect(r.purged.map((p) => `${p.camera}/${p.seq}/${p.reason}`)).toEqual(all.slice(0, k).map((m) => `${m.camera}/${m.seq}/quota`));
    expect(r.quotas[0]!.bytes_after).toBe(bytes);
    const left = [...store.all("cam-a"), ...store.all("cam-c")];
    expect(ChunkStore.blobBytes(left)).toBe(bytes);
    expect(ChunkStore.blobBytes(left)).toBeLessThanOrEqual(quota);
    // under the quota now: the next sweep purges nothing
    expect(summary(await ret.sweep(T0 + DAY))).toEqual({ cold: 0, purged: 0, failed: 0 });
  });

  it("the scheduled job sweeps by itself", async () => {
    const store = await storeWith("job", camA);
    const ret = await Retention.open({ store });
    const reports: SweepReport[] = [];
    const stop = startRetentionJob(ret, { intervalMs: 50, clock: () => T0 + 61 * DAY, onReport: (r) => reports.push(r) });
    try {
      await expect.poll(() => store.all("cam-a").length, { timeout: 10_000 }).toBe(0);
      // the sweep reports once it has finished, just after the last purge
      await expect.poll(() => reports.flatMap((r) => r.purged).length, { timeout: 10_000 }).toBe(camA.chunks.length);
    } finally {
      stop();
    }
    expect(reports.flatMap((r) => r.purged).length).toBe(camA.chunks.length);
  });
});
