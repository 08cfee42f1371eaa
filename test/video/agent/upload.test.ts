/**
 * The camera agent's uploader (video/agent/uploader.ts) against a real HTTP server that
 * implements the upload contract on the REAL chunk store (upload-store-server.ts: signatures,
 * sha256 and sizes are checked by ChunkStore.put), with announcements over a real aedes broker
 * over TCP through CameraUplink.publishChunk.
 *
 * Chunks are recorded once by the real agent (runCameraAgent, ffmpeg) from a generated H.264
 * source; each test works on its own copy of that data folder and its own store.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { chunksDir, runCameraAgent } from "../../../video/agent/agent.ts";
import { UploadLedger, uploadStateFile } from "../../../video/agent/upload-state.ts";
import { Uploader, type UploaderOptions } from "../../../video/agent/uploader.ts";
import { CameraUplink } from "../../../video/agent/camera-uplink.ts";
import { freePort } from "../../support/ports.ts";
import { eventually } from "../../support/retry.ts";
import { makeTestSource } from "../media.ts";
import { startChunkBroker, type ChunkBroker } from "./upload-broker.ts";
import { startStoreServer, type StoreServer, type StoreServerOptions } from "./upload-store-server.ts";

const CAM = "cam-up";
const SECRET = "up-secret-7f3a";
const FAST = { baseMs: 20, maxMs: 200 };
let tmp: string;
let recorded: string; // the data folder the agent recorded into (copied per test)
let metas: ChunkMeta[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-upload-"));
  const src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 12 });
  recorded = path.join(tmp, "recorded");
  const res = await runCameraAgent({ camera: CAM, key: SECRET, source: { kind: "file", path: src, pace: "fast" }, dataDir: recorded, segmentSeconds: 1 });
  metas = res.chunks;
  expect(metas.length).toBeGreaterThanOrEqual(10);
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

let n = 0;
async function fresh(): Promise<{ dataDir: string; storeRoot: string }> {
  const dir = path.join(tmp, `t${++n}`);
  await cp(recorded, path.join(dir, "data"), { recursive: true });
  return { dataDir: path.join(dir, "data"), storeRoot: path.join(dir, "store") };
}

/** A pino logger that keeps its lines (JSON objects) in `lines`. */
function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

async function serve(root: string, extra: Partial<StoreServerOptions> = {}): Promise<StoreServer> {
  return startStoreServer({ root, secrets: { [CAM]: SECRET }, ...extra });
}

function open(dataDir: string, server: StoreServer, extra: Partial<UploaderOptions> = {}): Promise<Uploader> {
  return Uploader.open({ camera: CAM, secret: SECRET, api: server.url, dataDir, backoff: FAST, ...extra });
}

/** 201 answers per seq (must be exactly one per chunk: stored once). */
function storedCounts(server: StoreServer): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of server.requests) if (r.status === 201) m.set(r.seq, (m.get(r.seq) ?? 0) + 1);
  return m;
}

function expectAllStoredOnce(server: StoreServer): void {
  const entries = server.store.all(CAM);
  expect(entries.map((e) => e.meta)).toEqual(metas);
  expect([...storedCounts(server).entries()].sort((a, b) => a[0] - b[0])).toEqual(metas.map((m) => [m.seq, 1]));
  expect(server.requests.filter((r) => r.status === 409 || r.status === 400 || r.status === 422)).toEqual([]);
}

describe("uploader against the real chunk store over HTTP", () => {
  it("uploads every chunk exactly once with 4 at a time, announces each after the store took it, and a restart sends nothing again", async () => {
    const { dataDir, storeRoot } = await fresh();
    const LIMIT = 4;
    // hold each answer until LIMIT requests are waiting (or all that are left): proves the
    // uploader reaches its limit; the server counts how many requests were ever open at once
    const held: (() => void)[] = [];
    let answered = 0;
    const releaseIfFull = () => {
      if (held.length >= Math.min(LIMIT, metas.length - answered)) {
        answered += held.length;
        for (const r of held.splice(0)) r();
      }
    };
    const server = await serve(storeRoot, {
      beforeAnswer: () => new Promise<void>((resolve) => {
        held.push(resolve);
        // a too-small concurrency would wait forever: let it through after a while (the
        // assertion on maxInFlight then fails instead of the test timing out)
        const t = setTimeout(() => { const i = held.indexOf(resolve); if (i >= 0) { held.splice(i, 1); answered++; resolve(); } }, 5000);
        t.unref();
        releaseIfFull();
      }),
    });
    const broker = await startChunkBroker({ [CAM]: SECRET }, (m) => server.store.get(m.camera, m.seq) !== undefined);
    const fw = new CameraUplink({ url: broker.url, deviceId: CAM, clientId: `${CAM}.chunks`, secret: SECRET, site: "s1", fps: 0, width: 0, height: 0, log: pino({ level: "silent" }) });
    expect(await fw.start()).toBe(true);
    const { log, lines } = capturingLog();
    try {
      const up = await open(dataDir, server, { concurrency: LIMIT, announcer: fw, log });
      await up.drain();
      expectAllStoredOnce(server);
      expect(server.requests.length).toBe(metas.length);
      expect(server.maxInFlight).toBe(LIMIT);
      expect(up.stats).toMatchObject({
        uploaded: metas.length, duplicate: 0, failed: 0, retried: 0, announced: metas.length,
        bytes: metas.reduce((s, m) => s + m.bytes, 0),
      });
      // each announcement is the signed record, on the camera's chunk topic at QoS 1, sent only
      // once the store held the chunk
      expect(broker.refused).toEqual([]);
      expect(broker.announcements.map((a) => a.meta).sort((a, b) => a.seq - b.seq)).toEqual(metas);
      expect(broker.announcements.every((a) => a.note === true && a.qos === 1 && a.clientId === `${CAM}.chunks` && a.topic === `footfall/v1/s1/camera/${CAM}/chunk`)).toBe(true);
      await up.stop();
      const ledger = await UploadLedger.read(uploadStateFile(dataDir));
      expect(ledger).toMatchObject({ camera: CAM, store: server.url, done_below: metas.length, done: [], failed: [] });
      // log lines name the camera
      const uploadedLines = lines.filter((l) => l.msg === "chunk uploaded");
      expect(uploadedLines.length).toBe(metas.length);
      expect(uploadedLines.every((l) => l.camera === CAM)).toBe(true);

      // a restart finds nothing to do
      const again = await open(dataDir, server, { concurrency: LIMIT, announcer: fw });
      expect(again.queued + again.inFlight).toBe(0);
      await again.drain();
      await again.stop();
      expect(server.requests.length).toBe(metas.length);
      expect(broker.announcements.length).toBe(metas.length);
    } finally {
      await fw.stop();
      await broker.close();
      await server.close();
    }
  });

  it("keeps uploading while the MQTT broker is down; chunks are done only once their announcement is acknowledged", async () => {
    const { dataDir, storeRoot } = await fresh();
    const server = await serve(storeRoot);
    const mqttPort = await freePort();
    const fw = new CameraUplink({
      url: `mqtt://127.0.0.1:${mqttPort}`, deviceId: CAM, clientId: `${CAM}.chunks`, secret: SECRET, site: "s1", fps: 0, width: 0, height: 0,
      reconnectPeriodMs: 100, log: pino({ level: "silent" }),
    });
    expect(await fw.start()).toBe(false); // nobody listens yet: mqtt.js keeps trying
    let broker: ChunkBroker | undefined;
    try {
      const up = await open(dataDir, server, { concurrency: 4, announcer: fw });
      await eventually("every chunk stored", () => server.store.all(CAM).length === metas.length);
      // stored, not announced: nothing is done yet, and the ledger says so
      expect(up.stats).toMatchObject({ uploaded: metas.length, announced: 0 });
      expect(up.awaitingAnnounce).toBe(metas.length);
      expect(up.inFlight + up.queued).toBe(0);
      broker = await startChunkBroker({ [CAM]: SECRET }, undefined, mqttPort);
      await up.drain();
      expect(up.stats.announced).toBe(metas.length);
      expect(new Set(broker.announcements.map((a) => a.meta.seq))).toEqual(new Set(metas.map((m) => m.seq)));
      await up.stop();
      expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ done_below: metas.length, done: [], failed: [] });
      expect(server.requests.length).toBe(metas.length);
    } finally {
      await fw.stop();
      await broker?.close();
      await server.close();
    }
  });

  it("stops while announcements wait for the broker: those chunks are not done, the next start sends them again (200 duplicate) and announces them", async () => {
    const { dataDir, storeRoot } = await fresh();
    const server = await serve(storeRoot);
    const mqttPort = await freePort();
    const mk = () => new CameraUplink({
      url: `mqtt://127.0.0.1:${mqttPort}`, deviceId: CAM, clientId: `${CAM}.chunks`, secret: SECRET, site: "s1", fps: 0, width: 0, height: 0,
      reconnectPeriodMs: 100, log: pino({ level: "silent" }),
    });
    const fw1 = mk();
    await fw1.start();
    let broker: ChunkBroker | undefined;
    const fw2 = mk();
    try {
      const up = await open(dataDir, server, { concurrency: 4, announcer: fw1 });
      await eventually("every chunk stored", () => server.store.all(CAM).length === metas.length);
      await up.stop({ graceMs: 100 });
      await fw1.stop({ graceMs: 100 });
      expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ done_below: 0, done: [] });

      broker = await startChunkBroker({ [CAM]: SECRET }, undefined, mqttPort);
      expect(await fw2.start()).toBe(true);
      const again = await open(dataDir, server, { concurrency: 4, announcer: fw2 });
      await again.drain();
      await again.stop();
      expect(again.stats).toMatchObject({ uploaded: 0, duplicate: metas.length, announced: metas.length });
      expectAllStoredOnce(server);
      expect(new Set(broker.announcements.map((a) => a.meta.seq))).toEqual(new Set(metas.map((m) => m.seq)));
      expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ done_below: metas.length, done: [], failed: [] });
    } finally {
      await fw2.stop();
      await broker?.close();
      await server.close();
    }
  });

  it("retries 503, 429, connection resets and a server that goes down and comes back: every chunk stored once", async () => {
    const { dataDir, storeRoot } = await fresh();
    const faults: Record<number, "503" | "429" | "reset"> = { 1: "503", 2: "reset", 3: "429", 5: "reset", 7: "503" };
    let storedBeforeDown = 0;
    let downAt: Promise<void> | undefined;
    let server!: StoreServer;
    server = await serve(storeRoot, {
      fault: ({ seq, n }) => (n === 1 ? faults[seq] : undefined),
      // the server dies right after the store took chunk 8 (its answer never leaves): the
      // uploader must send it again and accept the store's 200 duplicate
      beforeAnswer: ({ seq, n }) => {
        if (seq === 8 && n === 1) {
          storedBeforeDown = server.store.all(CAM).length;
          downAt = server.down();
        }
      },
    });
    const { log, lines } = capturingLog();
    try {
      const up = await open(dataDir, server, { concurrency: 3, log });
      await eventually("the server to be taken down", () => downAt !== undefined);
      await downAt;
      const retriedAtDown = up.stats.retried;
      // down: connections are refused and retried
      await eventually("retries against the stopped server", () => up.stats.retried > retriedAtDown + 2);
      await server.up();
      await up.drain();
      await up.stop();

      expect(storedBeforeDown).toBeGreaterThan(0);
      expectAllStoredOnce(server);
      const forSeq8 = server.requests.filter((r) => r.seq === 8).map((r) => r.result);
      expect(forSeq8).toEqual(["stored", "duplicate"]);
      for (const [seq, f] of Object.entries(faults)) {
        expect(server.requests.filter((r) => r.seq === Number(seq))[0]!.result).toBe(f === "reset" ? "reset" : f === "503" ? "unavailable" : "too_many_requests");
      }
      expect(up.stats.failed).toBe(0);
      // each chunk accepted once from the uploader's side; a 200 duplicate for each answer lost
      // with the server (chunk 8, and any other the store had taken when the server went down)
      expect(up.stats.uploaded + up.stats.duplicate).toBe(metas.length);
      expect(up.stats.duplicate).toBeGreaterThanOrEqual(1);
      expect(server.requests.filter((r) => r.result === "duplicate").length).toBe(up.stats.duplicate);
      expect(up.stats.retried).toBeGreaterThanOrEqual(Object.keys(faults).length + 3);
      const retryLines = lines.filter((l) => l.msg === "chunk upload failed, retrying");
      expect(retryLines.length).toBe(up.stats.retried);
      expect(retryLines.every((l) => l.camera === CAM && typeof l.seq === "number")).toBe(true);
      expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ done_below: metas.length, done: [], failed: [] });
    } finally {
      await server.close();
    }
  });

  it("gives up on a permanent refusal (422: the file does not match its signed record) without retrying, reports it and uploads the rest", async () => {
    const { dataDir, storeRoot } = await fresh();
    const bad = metas[4]!;
    const file = path.join(chunksDir(dataDir), bad.file);
    const bytes = await readFile(file);
    const mid = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(mid) ^ 0xff, mid); // same size, different content
    await writeFile(file, bytes);
    const server = await serve(storeRoot);
    const { log, lines } = capturingLog();
    try {
      const up = await open(dataDir, server, { concurrency: 6, log });
      await up.drain();
      await up.stop();
      expect(server.requests.filter((r) => r.seq === bad.seq)).toEqual([{ camera: CAM, seq: bad.seq, status: 422, result: "hash_mismatch" }]);
      expect(server.store.all(CAM).map((e) => e.meta.seq)).toEqual(metas.filter((m) => m !== bad).map((m) => m.seq));
      expect(up.stats).toMatchObject({ uploaded: metas.length - 1, failed: 1, retried: 0 });
      expect(up.failures()).toEqual([expect.objectContaining({ seq: bad.seq, status: 422, error: "hash_mismatch" })]);
      const refusal = lines.find((l) => l.msg === "chunk upload refused: given up");
      expect(refusal).toMatchObject({ camera: CAM, seq: bad.seq, status: 422, error: "hash_mismatch" });
      const ledger = await UploadLedger.read(uploadStateFile(dataDir));
      expect(ledger?.failed.map((f) => f.seq)).toEqual([bad.seq]);
      expect(ledger?.done_below).toBe(metas.length);

      // a restart tries the failed chunk once more (and only it)
      const again = await open(dataDir, server, { concurrency: 6 });
      await again.drain();
      await again.stop();
      expect(server.requests.filter((r) => r.seq === bad.seq).map((r) => r.status)).toEqual([422, 422]);
      expect(server.requests.length).toBe(metas.length + 1);
      expect(again.failures().map((f) => f.seq)).toEqual([bad.seq]);
    } finally {
      await server.close();
    }
  });

  it("stops within the grace period while the store hangs; the next start uploads what was left, nothing twice", async () => {
    const { dataDir, storeRoot } = await fresh();
    const hang: (() => void)[] = [];
    let hanging = true;
    const server = await serve(storeRoot, {
      // chunks ≥ 3 are stored but their answers hang until the test lets them go
      beforeAnswer: ({ seq }) => (hanging && seq >= 3 ? new Promise<void>((r) => hang.push(r)) : undefined),
    });
    try {
      const up = await open(dataDir, server, { concurrency: 2 });
      await eventually("two answers hanging", () => hang.length === 2);
      await up.stop({ graceMs: 300 });
      expect(up.stats.uploaded).toBe(3);
      const ledger = await UploadLedger.read(uploadStateFile(dataDir));
      expect(ledger).toMatchObject({ done_below: 3, done: [], failed: [] });
      hanging = false;
      for (const r of hang.splice(0)) r();

      const again = await open(dataDir, server, { concurrency: 2 });
      expect(again.queued + again.inFlight).toBe(metas.length - 3);
      await again.drain();
      await again.stop();
      expectAllStoredOnce(server);
      // the two hung chunks were stored by the first run, so the second gets duplicates for them
      expect(again.stats).toMatchObject({ uploaded: metas.length - 5, duplicate: 2, failed: 0 });
      expect(server.requests.filter((r) => r.seq < 3).length).toBe(3);
    } finally {
      await server.close();
    }
  });

  it("deletes the oldest uploaded chunks beyond the local keep budget, never one not yet uploaded", async () => {
    const { dataDir, storeRoot } = await fresh();
    const server = await serve(storeRoot, { fault: ({ seq }) => (seq === metas.length - 1 ? "503" : undefined) });
    const budget = metas.slice(-4).reduce((s, m) => s + m.bytes, 0); // about 3 to 4 chunks
    try {
      const up = await open(dataDir, server, { concurrency: 2, keepBytes: budget });
      await eventually("all but the last chunk stored", () => server.store.all(CAM).length === metas.length - 1);
      await up.stop({ graceMs: 0 });
      const left = (await readdir(chunksDir(dataDir))).filter((f) => f.endsWith(".mp4")).sort();
      const last = metas.at(-1)!;
      // the chunk that could not be uploaded stays, the uploaded ones on disk fit the budget
      expect(left).toContain(last.file);
      const keptUploaded = metas.filter((m) => m !== last && left.includes(m.file));
      expect(keptUploaded.reduce((s, m) => s + m.bytes, 0)).toBeLessThanOrEqual(budget);
      expect(keptUploaded.length).toBeGreaterThan(0);
      // the ones kept are the newest uploaded
      expect(keptUploaded).toEqual(metas.slice(metas.length - 1 - keptUploaded.length, -1));
      expect(up.stats.deletedLocal).toBe(metas.length - 1 - keptUploaded.length);
    } finally {
      await server.close();
    }
  });
});
