/**
 * The camera agent process (`footfall agent --api --mqtt`) SIGKILLed in the middle of an
 * upload, then started again: the store (real ChunkStore behind the contract server) ends with
 * every recorded chunk exactly once, the chunk whose answer the killed process never got is sent
 * again and answered 200 duplicate, every chunk is announced over MQTT (real aedes over TCP), and
 * a third start sends none of them again.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { UploadLedger, uploadStateFile } from "../../../video/agent/upload-state.ts";
import { eventually } from "../../support/retry.ts";
import { agentArgs } from "../agent-cli.ts";
import { makeTestSource } from "../media.ts";
import { startChunkBroker, type ChunkBroker } from "./upload-broker.ts";
import { startStoreServer, type StoreServer } from "./upload-store-server.ts";

const CAM = "cam-proc";
const SECRET = "proc-secret-91c2";
const ROOT = path.resolve(import.meta.dirname, "../../..");
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-upload-proc-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 8 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

function startAgent(dataDir: string, server: StoreServer, broker: ChunkBroker, extra: string[] = []) {
  const child = spawn(process.execPath, agentArgs(
    "--camera", CAM, "--source", src, "--realtime", "--segment", "1", "--data", dataDir,
    "--api", server.url, "--mqtt", broker.url, "--site", "s1", "--upload-concurrency", "3", ...extra), {
    cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: SECRET, FOOTFALL_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const lines = () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, output: () => out, lines };
}

describe("camera agent process with uploads: SIGKILL, restart, SIGTERM", () => {
  it("ends with every chunk in the store exactly once and announced", async () => {
    const dataDir = path.join(tmp, "data");
    let release: (() => void) | undefined;
    const server = await startStoreServer({
      root: path.join(tmp, "store"), secrets: { [CAM]: SECRET },
      // chunk 2 is stored, but its answer waits until the agent that sent it has been killed
      beforeAnswer: ({ seq, n }) => (seq === 2 && n === 1 ? new Promise<void>((r) => { release = r; }) : undefined),
    });
    const broker = await startChunkBroker({ [CAM]: SECRET }, (m) => server.store.get(m.camera, m.seq) !== undefined);
    try {
      const first = startAgent(dataDir, server, broker);
      await eventually("chunk 2 stored with its answer held", () => release !== undefined && server.store.get(CAM, 2) !== undefined, 30_000, 50);
      first.child.kill("SIGKILL");
      await first.exited;
      release!();

      const second = startAgent(dataDir, server, broker, ["--ops-port", "0"]);
      // the ops port while it runs: health and the upload metrics
      await eventually("the ops port", () => second.lines().some((l) => l.msg === "ops port listening"), 30_000, 50);
      const ops = String(second.lines().find((l) => l.msg === "ops port listening")!.ops);
      const health = await fetch(`http://${ops}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, camera: CAM, upload: expect.any(Object) });
      const metricsText = await (await fetch(`http://${ops}/metrics`)).text();
      expect(metricsText).toContain("footfall_camera_upload_chunks_total");
      expect(metricsText).toContain("footfall_camera_upload_queue_depth");

      expect(await second.exited, second.output()).toBe(0);
      const chunks = path.join(dataDir, "chunks");
      const metas: ChunkMeta[] = [];
      for (const f of (await readdir(chunks)).filter((n) => n.endsWith(".json")).sort()) {
        metas.push(JSON.parse(await readFile(path.join(chunks, f), "utf8")) as ChunkMeta);
      }
      expect(metas.length).toBeGreaterThanOrEqual(6);
      expect(metas.map((m) => m.seq)).toEqual(metas.map((_, i) => i));

      // the store: every recorded chunk once, with its signed record
      expect(server.store.all(CAM).map((e) => e.meta)).toEqual(metas);
      const stored = server.requests.filter((r) => r.status === 201).map((r) => r.seq).sort((a, b) => a - b);
      expect(stored).toEqual(metas.map((m) => m.seq));
      expect(server.requests.filter((r) => r.status >= 300)).toEqual([]);
      expect(server.requests.filter((r) => r.seq === 2).map((r) => r.result)).toEqual(["stored", "duplicate"]);
      expect(server.maxInFlight).toBeLessThanOrEqual(3);
      const stopped = second.lines().find((l) => l.msg === "uploader stopped");
      expect(stopped).toMatchObject({ camera: CAM, failed: 0, not_done: 0 });

      // MQTT: every chunk announced (at least once), only after the store held it
      expect(broker.refused).toEqual([]);
      const announced = new Map(broker.announcements.map((a) => [a.meta.seq, a.meta]));
      expect([...announced.values()].sort((a, b) => a.seq - b.seq)).toEqual(metas);
      expect(broker.announcements.every((a) => a.note === true && a.clientId === `${CAM}.chunks`)).toBe(true);
      expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ done_below: metas.length, done: [], failed: [] });

      // a third start: everything recorded so far is done, so none of it is sent again (the agent
      // may record a chunk more: on a used-up file it currently cuts the last GOP once more, see
      // the notes; such a new chunk is uploaded as new)
      const requestsBefore = server.requests.length;
      const third = startAgent(dataDir, server, broker);
      expect(await third.exited, third.output()).toBe(0);
      const later = server.requests.slice(requestsBefore);
      expect(later.filter((r) => r.seq < metas.length)).toEqual([]);
      expect(later.every((r) => r.status === 201)).toBe(true);
      expect(third.lines().find((l) => l.msg === "no recorded chunk left to upload")).toMatchObject({ queued: 0, done_below: metas.length });
    } finally {
      await broker.close();
      await server.close();
    }
  });

  it("SIGTERM: recording stops, in-flight uploads finish, the ledger is written and MQTT disconnects cleanly (no last will)", async () => {
    const dataDir = path.join(tmp, "data-term");
    const server = await startStoreServer({ root: path.join(tmp, "store-term"), secrets: { [CAM]: SECRET } });
    const broker = await startChunkBroker({ [CAM]: SECRET }, (m) => server.store.get(m.camera, m.seq) !== undefined);
    try {
      const agent = startAgent(dataDir, server, broker, ["--loop"]);
      await eventually("three chunks stored", () => server.store.all(CAM).length >= 3, 30_000, 50);
      agent.child.kill("SIGTERM");
      expect(await agent.exited, agent.output()).toBe(0);
      const metas: ChunkMeta[] = [];
      const chunks = path.join(dataDir, "chunks");
      for (const f of (await readdir(chunks)).filter((n) => n.endsWith(".json")).sort()) {
        metas.push(JSON.parse(await readFile(path.join(chunks, f), "utf8")) as ChunkMeta);
      }
      // every chunk recorded before the stop (the one cut by it included) was uploaded and announced
      expect(server.store.all(CAM).map((e) => e.meta)).toEqual(metas);
      expect(new Set(broker.announcements.map((a) => a.meta.seq))).toEqual(new Set(metas.map((m) => m.seq)));
      expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ done_below: metas.length, done: [], failed: [] });
      expect(agent.lines().find((l) => l.msg === "uploader stopped")).toMatchObject({ not_done: 0, failed_total: 0 });
      // a clean DISCONNECT: the broker publishes no last will for the chunks client
      await broker.close();
      expect(broker.statuses).toEqual([]);
    } finally {
      await broker.close();
      await server.close();
    }
  });
});
