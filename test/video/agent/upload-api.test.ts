/**
 * The camera agent process (`footfall agent --api --mqtt`) against the REAL footfall parts:
 * the API app's chunk upload route (api/video-routes.ts, device registry in a real
 * nats-server, the camera's secret from an imported topology) and the real MQTT broker
 * (broker/main.ts: aedes over TCP, chunk announcements bridged into JetStream). A file source is
 * recorded as fast as ffmpeg goes; the agent uploads with 4 at a time, announces, and exits once
 * everything is done: the store holds every recorded chunk once and the broker accepted one
 * announcement per chunk.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChunkMeta } from "../../../contracts/video.ts";
import { UploadLedger, uploadStateFile } from "../../../video/agent/upload-state.ts";
import { runBroker, type RunningBroker } from "../../../broker/main.ts";
import { startApiHarness, type ApiHarness } from "../../api/api-harness.ts";
import { freePort } from "../../support/ports.ts";
import { eventually } from "../../support/retry.ts";
import { agentArgs } from "../agent-cli.ts";
import { makeTestSource } from "../media.ts";

const CAM = "cam-api";
const SECRET = "cam-api-secret-5d1e";
const SITE = "hq";
const ROOT = path.resolve(import.meta.dirname, "../../..");
let tmp: string;
let src: string;
let h: ApiHarness;
let broker: RunningBroker;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-upload-api-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "640x360", rate: 25, seconds: 10, preset: "ultrafast" });
  h = await startApiHarness({ video: {}, overrides: { mqttPort: await freePort(), brokerOpsPort: await freePort(), logLevel: "warn" } });
  broker = await runBroker(h.cfg);
  const r = await h.admin("PUT", `/api/v1/sites/${SITE}/topology`, {
    spaces: [{ id: "lobby", name: "Lobby" }], doorways: [],
    devices: [{ id: CAM, kind: "camera", secret: SECRET, sees: ["lobby"] }],
  });
  expect(r.status).toBe(200);
  await eventually("the registry has the camera", () => h.registry.get(CAM) !== undefined);
}, 120_000);
afterAll(async () => {
  await broker?.stop();
  await h?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** footfall_broker_publishes_accepted_total{type="chunk"} from the broker's ops port. */
async function chunksAccepted(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.opsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("footfall_broker_publishes_accepted_total") && l.includes('type="chunk"'));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("camera agent uploads to the real API and announces through the real broker", () => {
  it("stores every recorded chunk once and the broker accepts one announcement per chunk", async () => {
    const dataDir = path.join(tmp, "data");
    const child = spawn(process.execPath, agentArgs(
      "--camera", CAM, "--source", src, "--segment", "1", "--data", dataDir,
      "--api", h.url, "--mqtt", `mqtt://127.0.0.1:${h.cfg.mqttPort}`, "--site", SITE, "--upload-concurrency", "4"), {
      cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: SECRET, FOOTFALL_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    expect(code, out).toBe(0);

    const chunks = path.join(dataDir, "chunks");
    const metas: ChunkMeta[] = [];
    for (const f of (await readdir(chunks)).filter((n) => n.endsWith(".json")).sort()) {
      metas.push(JSON.parse(await readFile(path.join(chunks, f), "utf8")) as ChunkMeta);
    }
    expect(metas.length).toBeGreaterThanOrEqual(8);
    expect(h.video!.store.all(CAM).map((e) => e.meta)).toEqual(metas);
    expect(await chunksAccepted()).toBe(metas.length);
    const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === "chunk uploaded").map((l) => l.result)).toEqual(metas.map(() => "stored"));
    expect(lines.find((l) => l.msg === "uploader stopped")).toMatchObject({ uploaded: metas.length, announced: metas.length, failed: 0, not_done: 0 });
    expect(await UploadLedger.read(uploadStateFile(dataDir))).toMatchObject({ store: h.url, done_below: metas.length, done: [], failed: [] });
  });
});
