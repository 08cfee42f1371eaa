/**
 * Fills a test stack's InfluxDB the way a running installation does, through the whole pipeline
 * (MQTT -> aedes -> JetStream -> actors -> InfluxDB), with three kinds of device at once:
 *
 *  - "demo-mall": the simulated DPU building, 10 simulated minutes, duplicates on;
 *  - "camera-mall": the simulated camera mall (site-scoped device ids), 7 of its smart cameras at
 *    5 fps for 3 simulated minutes, 50 walkers on short visits, and DPUs on every doorway
 *    recording the same walkers' door crossings (so its spaces have both counts);
 *  - one camera of the camera mall also runs footfall's camera agent (`footfall agent`) on a
 *    short test video: it records chunks, uploads them to the API's chunk store and announces
 *    them over MQTT.
 *
 * Simulated time lies in the last hour, so every dashboard's default range holds it. Resolves
 * once every crossing, frame and chunk is in InfluxDB and the person tracks have settled.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { connect } from "mqtt";
import { demoMall, planSecrets, toTopologyDoc } from "../../firmware-sim/building.ts";
import { runBuildingSim } from "../../firmware-sim/building-run.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import { runCameraSim } from "../../firmware-sim/camera-run.ts";
import { simulateCameraWalkers, walkerDoorCrossings } from "../../firmware-sim/camera-walkers.ts";
import { DpuFirmware } from "../../firmware-sim/dpu-firmware.ts";
import { waitOnline } from "../../firmware-sim/firmware-online.ts";
import { createLogger } from "../../infra/log.ts";
import { influxHttp } from "../../infra/provision.ts";
import { eventually } from "../support/retry.ts";
import type { TestStack } from "../support/stack.ts";
import { agentArgs } from "../video/agent-cli.ts";
import { makeTestSource } from "../video/media.ts";
import type { RunInfluxQL } from "./grafana-emulation.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const DPU_SITE = "demo-mall";
export const CAMERA_SITE = "camera-mall";

export interface FilledSites {
  /** the camera that also runs the camera agent */
  videoCamera: string;
  /** crossings, frames and chunks the devices delivered */
  crossings: Record<string, number>;
  frames: number;
  chunks: number;
}

/** True once the broker accepts the device's credentials (its registry follows KV). */
function canLogIn(mqttUrl: string, device: string, secret: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(mqttUrl, { username: device, password: secret, clientId: `${device}.probe`, reconnectPeriod: 0, connectTimeout: 5000 });
    const done = (ok: boolean) => { c.end(true); resolve(ok); };
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
    c.once("close", () => done(false));
  });
}

async function putTopology(stack: TestStack, site: string, doc: unknown): Promise<void> {
  const r = await stack.admin("PUT", `/api/v1/sites/${site}/topology`, doc);
  if (r.status !== 200) throw new Error(`topology of ${site} refused: ${r.status} ${await r.text()}`);
}

/** `footfall agent` on a file: records, uploads and announces every chunk, then exits 0. */
async function runAgent(stack: TestStack, o: { camera: string; secret: string; site: string; source: string; dataDir: string }): Promise<number> {
  const child = spawn(process.execPath, agentArgs(
    "--camera", o.camera, "--source", o.source, "--segment", "1", "--data", o.dataDir,
    "--api", stack.apiUrl, "--mqtt", stack.mqttUrl, "--site", o.site), {
    cwd: ROOT, env: { ...process.env, FOOTFALL_CAMERA_SECRET: o.secret, FOOTFALL_LOG_LEVEL: "warn" }, stdio: ["ignore", "ignore", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let err = "";
  child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  process.off("exit", killOnExit);
  if (code !== 0) throw new Error(`footfall agent exited ${code}: ${err.slice(-2000)}`);
  return readdirSync(path.join(o.dataDir, "chunks")).filter((f) => f.endsWith(".json")).length;
}

/** Plays the walkers' door crossings through each doorway's DPU firmware, as fast as acknowledged. */
async function playDpus(stack: TestStack, site: string, crossings: ReturnType<typeof walkerDoorCrossings>, secrets: Record<string, string>, dataDir: string): Promise<void> {
  const log = createLogger("camera-mall-dpus", "warn");
  const fws = new Map<string, DpuFirmware>();
  for (const c of crossings) {
    if (!fws.has(c.device)) fws.set(c.device, new DpuFirmware({ url: stack.mqttUrl, deviceId: c.device, secret: secrets[c.device]!, site, dataDir, log }));
  }
  try {
    await Promise.all([...fws.values()].map((f) => f.start()));
    await waitOnline([...fws.values()], 15_000, stack.mqttUrl);
    const open = new Set<Promise<void>>();
    for (const [i, c] of crossings.entries()) {
      while (open.size >= 128) await Promise.race(open);
      const p = fws.get(c.device)!.record({ id: `grafana-${i}`, ts: c.ts, doorway: c.doorway, delta: c.delta }).finally(() => open.delete(p));
      open.add(p);
    }
    await Promise.all(open);
    await Promise.all([...fws.values()].map((f) => f.flush()));
  } finally {
    await Promise.all([...fws.values()].map((f) => f.stop()));
  }
}

export async function fillSites(stack: TestStack, run: RunInfluxQL): Promise<FilledSites> {
  const dataDir = path.join(stack.services.dataDir, "grafana-sims");
  mkdirSync(dataDir, { recursive: true });

  const building = demoMall(DPU_SITE);
  const buildingSecrets = planSecrets(building);
  await putTopology(stack, DPU_SITE, toTopologyDoc(building, buildingSecrets));
  const mall = cameraMall(CAMERA_SITE, { siteScopedIds: true });
  const mallSecrets = cameraMallSecrets(mall, { dpus: true });
  await putTopology(stack, CAMERA_SITE, toCameraTopologyDoc(mall, mallSecrets, { dpus: true }));
  // half the cameras run (fewer frames, a shorter test): both corridors, both entrances and two
  // shops, five counting lines between them
  const cameras = ["west-entrance", "c1", "c3", "c4", "east-entrance", "shop-a", "shop-c"].map((c) => `${CAMERA_SITE}-cam-${c}`);
  for (const c of cameras) if (!mall.cameras.some((x) => x.id === c)) throw new Error(`the camera mall has no camera ${c}`);
  // the camera listed first (a variable's first value is this one)
  const videoCamera = [...cameras].sort()[0]!;

  const source = path.join(dataDir, "camera.mp4");
  await makeTestSource(source, { size: "320x240", rate: 10, seconds: 8, preset: "ultrafast" });
  // the broker's device registry follows KV: wait until it knows the last device of each site
  const probes: Array<[string, string]> = [
    [building.dpus.at(-1)!.id, buildingSecrets[building.dpus.at(-1)!.id]!],
    [mall.dpus.at(-1)!.id, mallSecrets[mall.dpus.at(-1)!.id]!],
    [videoCamera, mallSecrets[videoCamera]!],
  ];
  for (const [device, secret] of probes) await eventually(`the broker accepts ${device}`, () => canLogIn(stack.mqttUrl, device, secret), 20_000, 200);

  // whole minutes in the past, the camera mall's three minutes ending two minutes ago
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const cameraStart = now - 5 * 60_000, cameraMs = 3 * 60_000;
  // short visits, arriving in the first half: most walkers have left, and their persons ended
  // (a minute unseen), before the run ends, so their zone visits are closed
  const walkers = simulateCameraWalkers({
    plan: mall, walkers: 50, startTs: cameraStart, durationMs: cameraMs, arrivalWindowMs: cameraMs / 2, seed: 21,
    shopsPerVisit: [1, 2], pauseMs: [2_000, 10_000],
  });
  const doorCrossings = walkerDoorCrossings(mall, walkers, cameraStart + cameraMs);

  const [buildingRun, cameraRun, , chunks] = await Promise.all([
    runBuildingSim({
      mqttUrl: stack.mqttUrl, plan: building, secrets: buildingSecrets, walkers: 120, durationMs: 10 * 60_000,
      startTs: now - 30 * 60_000, seed: 20, duplicateRate: 0.05, maxSkewMs: 200, dataDir: path.join(dataDir, "demo-mall"),
      log: createLogger("building-sim", "warn"),
    }),
    runCameraSim({
      mqttUrl: stack.mqttUrl, plan: mall, secrets: mallSecrets, walkers, durationMs: cameraMs, startTs: cameraStart, seed: 21, fps: 5, cameras,
      log: createLogger("camera-sim", "warn"),
    }),
    playDpus(stack, CAMERA_SITE, doorCrossings, mallSecrets, path.join(dataDir, "camera-mall")),
    runAgent(stack, { camera: videoCamera, secret: mallSecrets[videoCamera]!, site: CAMERA_SITE, source, dataDir: path.join(dataDir, "agent") }),
  ]);

  const filled: FilledSites = {
    videoCamera,
    crossings: { [DPU_SITE]: buildingRun.crossings, [CAMERA_SITE]: doorCrossings.length },
    frames: cameraRun.frames,
    chunks,
  };
  const one = async (q: string): Promise<number> => {
    const s = await run(q);
    const v = s[0]?.values[0]?.[1];
    return typeof v === "number" ? v : 0;
  };
  await eventually("every crossing, frame and chunk in InfluxDB", async () => {
    for (const [site, n] of Object.entries(filled.crossings)) {
      if ((await one(`SELECT count("delta") FROM "crossings" WHERE "site" = '${site}'`)) < n) return false;
    }
    const tracked = await one(`SELECT sum("frames") + sum("late") FROM "camera_stats" WHERE "site" = '${CAMERA_SITE}'`);
    if (tracked < filled.frames) return false;
    return (await one(`SELECT count("seq") FROM "video_chunk" WHERE "camera" = '${videoCamera}'`)) >= filled.chunks;
  }, 120_000, 500);
  // the stream's end releases in steps (reorder buffers, the linker, persons ended after a minute
  // unseen, their zone visits closed): settled = the person tracks unchanged for three polls
  let last = "", same = 0;
  await eventually("person tracks settled", async () => {
    const seen = JSON.stringify(await run(`SELECT count("obs"), sum("obs") FROM "person" WHERE "site" = '${CAMERA_SITE}' AND "ended" = true`));
    same = seen === last ? same + 1 : 0;
    last = seen;
    return same >= 3 && seen !== "[]";
  }, 120_000, 1000);
  return filled;
}

/**
 * Runs each continuous query of the database once over [from, to): what influxd does at every
 * full hour (RESAMPLE FOR 2d), so the hourly rollups hold the data just written. The statement
 * is the continuous query's own, as influxd lists it (SELECT INTO, so POST).
 */
export async function runContinuousQueries(influxUrl: string, db: string, from: number, to: number): Promise<number> {
  const post = async (q: string) => {
    const { base, headers } = influxHttp(influxUrl);
    const r = await fetch(new URL(`/query?db=${db}`, base), { method: "POST", headers, body: new URLSearchParams({ q }) });
    const body = (await r.json()) as { results?: Array<{ error?: string; series?: Array<{ name: string; columns: string[]; values: unknown[][] }> }> };
    const err = body.results?.find((x) => x.error)?.error;
    if (r.status !== 200 || err) throw new Error(`InfluxDB refused ${q}: ${r.status} ${err ?? ""}`);
    return body.results?.[0]?.series ?? [];
  };
  const cqs = (await post("SHOW CONTINUOUS QUERIES")).filter((s) => s.name === db)
    .flatMap((s) => s.values.map((row) => String(row[s.columns.indexOf("query")])));
  for (const cq of cqs) {
    const m = /BEGIN (SELECT .+?) (GROUP BY .+) END$/.exec(cq);
    if (!m) throw new Error(`continuous query not understood: ${cq}`);
    await post(`${m[1]} WHERE time >= ${from}ms AND time < ${to}ms ${m[2]}`);
  }
  return cqs.length;
}
