/**
 * The video routes over real parts: nats-server (device registry), the API app over HTTP, chunks
 * cut by the real camera agent from an H.264 source (GOP 1 s, 2-s chunks), ffmpeg/ffprobe.
 *   - upload: 201 then 200 for the same chunk; 401/403 for wrong credentials or devices; 400 for a
 *     missing or mismatched record; 413 before the body is read; 422 for tampered bytes or a
 *     record signed with another key; 409 for another record of a stored seq;
 *   - signed chunk URLs: the exact bytes with no token, ranges, 403 when tampered or expired;
 *   - clips through the API: duration within a GOP, ffprobe reads them; 404/416/400/401;
 *   - retention through the API on a shortened clock: a camera's new policy takes effect without a
 *     restart; the scheduled job moves chunks warm → cold (smaller) → purged.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../contracts/video.ts";
import { signChunkMeta } from "../../video/chunk/chunk-meta.ts";
import { chunksDir, runCameraAgent } from "../../video/agent/agent.ts";
import { makeTestSource } from "../video/media.ts";
import { eventually } from "../support/retry.ts";
import { jsonOf, startApiHarness, type ApiHarness } from "./api-harness.ts";

const run = promisify(execFile);
const SECRET = "cam-1-secret-key";
const DAY = 86_400_000;
/** 2026-03-02T10:00:00Z: wall time of the recording */
const T0 = Date.UTC(2026, 2, 2, 10);
const MAX_CHUNK = 4 * 1024 * 1024;

let h: ApiHarness;
let tmp: string;
let chunks: ChunkMeta[];
/** where the recording starts (the agent's clock is stopped at T0 when the first chunk completes) */
let t0: number;
let now = T0 + 60_000;
const fileOf = (m: ChunkMeta) => path.join(chunksDir(path.join(tmp, "agent")), m.file);
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
const metaHeader = (m: unknown) => Buffer.from(JSON.stringify(m)).toString("base64url");

function upload(m: ChunkMeta, body: Buffer, opts: { auth?: string | null; camera?: string; seq?: number; header?: string | null } = {}) {
  const headers: Record<string, string> = { "content-type": "application/octet-stream" };
  const auth = opts.auth === undefined ? basic(m.camera, SECRET) : opts.auth;
  if (auth) headers.authorization = auth;
  const header = opts.header === undefined ? metaHeader(m) : opts.header;
  if (header) headers["footfall-chunk-meta"] = header;
  return fetch(`${h.url}/api/v1/cameras/${opts.camera ?? m.camera}/chunks/${opts.seq ?? m.seq}`, { method: "PUT", headers, body: new Uint8Array(body) });
}

async function probe(bytes: Buffer): Promise<{ duration: number; width: number; height: number }> {
  const f = path.join(tmp, `probe-${createHash("sha1").update(bytes).digest("hex")}.mp4`);
  await writeFile(f, bytes);
  const { stdout } = await run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "format=duration:stream=width,height", "-of", "json", f]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: { width: number; height: number }[] };
  return { duration: Number(j.format.duration), width: j.streams[0]!.width, height: j.streams[0]!.height };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-video-api-"));
  const src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "640x360", rate: 25, seconds: 16, gop: 25, preset: "ultrafast" });
  const rec = await runCameraAgent({
    camera: "cam-1", key: SECRET, source: { kind: "file", path: src }, dataDir: path.join(tmp, "agent"), segmentSeconds: 2, clock: () => T0,
  });
  chunks = rec.chunks;
  t0 = chunks[0]!.start_ms;
  expect(chunks.length).toBeGreaterThanOrEqual(7);
  h = await startApiHarness({ video: { clock: () => now }, overrides: { maxChunkBytes: MAX_CHUNK, videoSweepS: 1 } });
  const r = await h.admin("PUT", "/api/v1/sites/hq/topology", {
    spaces: [{ id: "lobby", name: "Lobby" }],
    doorways: [{ id: "front", entering_to: "lobby", exiting_to: "outside" }],
    devices: [
      { id: "cam-1", kind: "camera", secret: SECRET },
      { id: "cam-2", kind: "camera", secret: "cam-2-secret-key" },
      { id: "dpu-a", kind: "dpu", doorway: "front", secret: "dpu-a-secret" },
    ],
  });
  expect(r.status).toBe(200);
  await eventually("registry has the devices", () => ["cam-1", "cam-2", "dpu-a"].every((id) => h.registry.get(id)));
}, 120_000);
afterAll(async () => {
  await h?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("video API: chunk upload", () => {
  it("refuses bad credentials, other devices and bad records before storing anything", async () => {
    const m = chunks[0]!;
    const body = await readFile(fileOf(m));
    for (const auth of [null, basic("cam-1", "wrong-secret"), basic("cam-2", "cam-2-secret-key")]) {
      const r = await jsonOf(await upload(m, body, { auth }));
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("unauthorized");
    }
    const dpu = await jsonOf(await upload({ ...m, camera: "dpu-a" }, body, { auth: basic("dpu-a", "dpu-a-secret") }));
    expect(dpu.status).toBe(403);
    expect(dpu.body.reason).toMatch(/not a camera/);
    expect((await jsonOf(await upload(m, body, { header: null }))).status).toBe(400);
    expect((await jsonOf(await upload(m, body, { header: "not base64!" }))).status).toBe(400);
    expect((await jsonOf(await upload(m, body, { seq: m.seq + 1 }))).body.reason).toMatch(/must be for camera cam-1, seq/);
    const invalid = await jsonOf(await upload({ ...m, duration_s: -1 }, body));
    expect(invalid).toMatchObject({ status: 400, body: { error: "invalid_record" } });
    // refused before the body is read, and the answer still reaches the client every time
    for (let i = 0; i < 3; i++) expect((await jsonOf(await upload(m, Buffer.alloc(MAX_CHUNK + 1)))).status).toBe(413);
    // the bytes differ from the record, or the record is signed with another key
    const tampered = Buffer.from(body);
    tampered[tampered.length - 10]! ^= 0xff;
    expect(await jsonOf(await upload(m, tampered))).toMatchObject({ status: 422, body: { error: "hash_mismatch" } });
    const { sig: _s, ...unsigned0 } = m;
    const otherKey = signChunkMeta(unsigned0, "someone-elses-key");
    expect(await jsonOf(await upload(otherKey, body))).toMatchObject({ status: 422, body: { error: "bad_signature" } });
    expect(h.video!.store.all("cam-1")).toHaveLength(0);
  });

  it("stores every chunk once: 201, a retry answers 200 duplicate, another record for the seq 409", async () => {
    for (const m of chunks) {
      const r = await jsonOf(await upload(m, await readFile(fileOf(m))));
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ status: "stored", chunk: { camera: "cam-1", seq: m.seq, tier: "warm", sha256: m.sha256 } });
    }
    const again = await jsonOf(await upload(chunks[2]!, await readFile(fileOf(chunks[2]!))));
    expect(again).toMatchObject({ status: 200, body: { status: "duplicate" } });
    const { sig: _sig, ...unsigned } = chunks[3]!;
    const moved = signChunkMeta({ ...unsigned, start_ms: unsigned.start_ms + 5, end_ms: unsigned.end_ms + 5 }, SECRET);
    expect(await jsonOf(await upload(moved, await readFile(fileOf(chunks[3]!))))).toMatchObject({ status: 409, body: { error: "conflict" } });
    expect(h.video!.store.all("cam-1").map((e) => e.meta.seq)).toEqual(chunks.map((m) => m.seq));
  });
});

describe("video API: signed chunk URLs", () => {
  it("lists chunks with URLs that fetch the exact bytes without a token, and refuse when tampered or expired", async () => {
    expect((await fetch(`${h.url}/api/v1/cameras/cam-1/chunks`)).status).toBe(401);
    const list = await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-1/chunks?from=${t0 + 2500}&to=${t0 + 6500}`));
    expect(list.status).toBe(200);
    const seqs = (list.body.chunks as { seq: number }[]).map((c) => c.seq);
    expect(seqs).toEqual(chunks.filter((m) => m.end_ms > t0 + 2500 && m.start_ms < t0 + 6500).map((m) => m.seq));
    const c = list.body.chunks[0] as { url: string; seq: number; sha256: string; url_expires_ms: number };
    const r = await fetch(`${h.url}${c.url}`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("video/mp4");
    const bytes = Buffer.from(await r.arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(c.sha256);
    expect(bytes.equals(await readFile(fileOf(chunks.find((m) => m.seq === c.seq)!)))).toBe(true);
    const part = await fetch(`${h.url}${c.url}`, { headers: { range: "bytes=0-99" } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);

    const other = list.body.chunks[1] as { sha256: string };
    const swapped = c.url.replace(c.sha256, other.sha256);
    expect(await jsonOf(await fetch(`${h.url}${swapped}`))).toMatchObject({ status: 403, body: { error: "bad_signature" } });
    expect((await jsonOf(await fetch(`${h.url}${c.url.replace(/sig=[0-9a-f]+/, "sig=zz")}`))).status).toBe(400);
    const saved = now;
    now = c.url_expires_ms + 1;
    try {
      expect(await jsonOf(await fetch(`${h.url}${c.url}`))).toMatchObject({ status: 403, body: { error: "expired" } });
    } finally {
      now = saved;
    }
  });
});

describe("video API: clips", () => {
  it("cuts HD and SD clips inside one chunk and across several; ffprobe reads them", async () => {
    for (const [from, to] of [[t0 + 4200, t0 + 5400], [t0 + 1500, t0 + 9700]] as const) {
      for (const quality of ["hd", "sd"] as const) {
        const r = await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${from}&to=${to}&quality=${quality}`);
        expect(r.status).toBe(200);
        expect(r.headers.get("content-type")).toBe("video/mp4");
        const served = [Number(r.headers.get("footfall-clip-from")), Number(r.headers.get("footfall-clip-to"))] as const;
        const p = await probe(Buffer.from(await r.arrayBuffer()));
        console.log(`clip ${quality} ${(to - from) / 1000} s asked: ${p.duration.toFixed(3)} s ${p.width}x${p.height}, served from ${served[0] - t0} ms`);
        expect(served[1]).toBe(to);
        if (quality === "hd") {
          expect([p.width, p.height]).toEqual([640, 360]);
          expect(served[0]).toBeLessThanOrEqual(from);
          expect(from - served[0]).toBeLessThan(1000); // one GOP
          expect(Math.abs(p.duration - (to - served[0]) / 1000)).toBeLessThan(0.1);
        } else {
          expect(p.height).toBe(360); // SD never scales up
          expect(Math.abs(p.duration - (to - from) / 1000)).toBeLessThan(0.1);
        }
      }
    }
  });

  it("answers 404, 416, 400 and 401 with JSON reasons", async () => {
    const end = chunks.at(-1)!.end_ms;
    expect(await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-2/clip?from=${t0}&to=${t0 + 1000}`))).toMatchObject({ status: 404, body: { error: "no_video" } });
    const outside = await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${end + 60_000}&to=${end + 70_000}`));
    expect(outside).toMatchObject({ status: 416, body: { error: "range_not_satisfiable", available: { from_ms: t0, to_ms: end } } });
    expect((await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${t0 + 5000}&to=${t0 + 4000}`))).status).toBe(400);
    expect((await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${t0}`))).status).toBe(400);
    expect((await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${t0}&to=${t0 + 1000}&quality=4k`))).status).toBe(400);
    expect((await fetch(`${h.url}/api/v1/cameras/cam-1/clip?from=${t0}&to=${t0 + 1000}`)).status).toBe(401);
  });
});

describe("video API: retention", () => {
  it("a camera's retention set through the API takes effect at the next scheduled sweep: warm → cold → purged", async () => {
    const list = async () => (await jsonOf(await h.admin("GET", "/api/v1/cameras/cam-1/chunks?ttl=604800"))).body.chunks as { tier: string; bytes: number; width: number; url: string }[];
    const warmBytes = (await list()).reduce((s, c) => s + c.bytes, 0);
    // 2 days later the default policy (30 warm days) keeps everything warm
    now = T0 + 2 * DAY;
    await h.admin("POST", "/api/v1/video/retention/sweep");
    expect((await list()).every((c) => c.tier === "warm")).toBe(true);
    const bad = await jsonOf(await h.admin("PUT", "/api/v1/video/retention/cameras/cam-1", { warm_days: -1 }));
    expect(bad.status).toBe(400);
    const set = await jsonOf(await h.admin("PUT", "/api/v1/video/retention/cameras/cam-1", { warm_days: 1, cold_days: 2 }));
    expect(set.status).toBe(200);
    expect(set.body.cameras["cam-1"]).toEqual({ warm_days: 1, cold_days: 2 });
    expect((await jsonOf(await h.admin("GET", "/api/v1/cameras/cam-1/retention"))).body)
      .toMatchObject({ site: "hq", warm_days: 1, cold_days: 2, source: { warm_days: "camera", cold_days: "camera" } });
    // the scheduled job (every second here) compacts them, no restart and no explicit sweep
    await eventually("chunks moved to the cold tier", async () => (await list()).every((c) => c.tier === "cold"), 60_000, 500);
    const cold = await list();
    const coldBytes = cold.reduce((s, c) => s + c.bytes, 0);
    console.log(`retention: warm ${warmBytes} bytes -> cold ${coldBytes} bytes (${cold[0]!.width} px wide)`);
    const aUrl = cold[0]!.url; // valid for a week
    expect(coldBytes).toBeLessThan(warmBytes);
    // a cold clip still plays
    const clip = await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${t0 + 3000}&to=${t0 + 6000}&quality=sd`);
    expect(clip.status).toBe(200);
    expect((await probe(Buffer.from(await clip.arrayBuffer()))).duration).toBeGreaterThan(2.9);
    // 3 days after the recording: past warm + cold, purged
    now = T0 + 3 * DAY + 60_000;
    await eventually("chunks purged", async () => (await list()).length === 0, 30_000, 500);
    expect(await jsonOf(await fetch(`${h.url}${aUrl}`))).toMatchObject({ status: 404 });
    expect((await jsonOf(await h.admin("GET", `/api/v1/cameras/cam-1/clip?from=${t0}&to=${t0 + 1000}`))).status).toBe(404);
    const removed = await jsonOf(await h.admin("DELETE", "/api/v1/video/retention/cameras/cam-1"));
    expect(removed.body.cameras["cam-1"]).toBeUndefined();
  }, 120_000);
});
