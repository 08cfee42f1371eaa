import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connectNats } from "../../infra/nats.ts";
import { KeyStore } from "../../access/key-store.ts";
import type { KeyRole } from "../../contracts/api-keys.ts";
import { demoMall, dpuIdFor, planSecrets, toTopologyDoc, type BuildingPlan } from "../../firmware-sim/building.ts";
import { runBuildingSim } from "../../firmware-sim/building-run.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import type { CameraMallPlan } from "../../firmware-sim/camera-mall-plan.ts";
import { runCameraSim } from "../../firmware-sim/camera-run.ts";
import { simulateCameraWalkers, walkerDoorCrossings } from "../../firmware-sim/camera-walkers.ts";
import type { TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";

/**
 * Sites for the wall's browser tests, filled through the real ingest paths (MQTT for DPUs and
 * cameras, HTTP ingest for the camera mall's DPUs) with simulated people of the last hour.
 */

/** The name a space of the DPU site carries to check the wall renders names as text. */
export const SCRIPT_NAME = "<script>alert(1)</script>";
export const MARKUP_NAME = "<img src=x onerror=alert(2)>";

/** Capacities sized for a test-sized crowd, so the walls show every level from empty to over capacity. */
const DPU_CAPACITY: Record<string, number> = { lobby: 60, corridor: 45, "food-court": 30, books: 10, fashion: 14, electronics: 9, restrooms: 5 };
const PLAN_CAPACITY = { entrance: 12, corridor: 18, shop: 6 } as const;

/** The demo mall (DPUs only, no floor plan) plus two spaces with markup in their names; the last `minutes` of walkers. */
export async function seedDpuSite(stack: TestStack, site: string, o: { walkers: number; minutes: number; seed: number }): Promise<{ plan: BuildingPlan; secrets: Record<string, string> }> {
  const base = demoMall(site, { siteScopedDpus: true });
  const plan: BuildingPlan = {
    ...base,
    spaces: [
      ...base.spaces.map((sp) => ({ ...sp, capacity: DPU_CAPACITY[sp.id] ?? sp.capacity })),
      { id: "xss-script", name: SCRIPT_NAME, capacity: 8 },
      { id: "xss-markup", name: MARKUP_NAME, capacity: 8 },
    ],
    doorways: [
      ...base.doorways,
      { id: "xss-script-door", name: "script door", entering_to: "xss-script", exiting_to: "corridor" },
      { id: "xss-markup-door", name: "markup door", entering_to: "xss-markup", exiting_to: "lobby" },
    ],
  };
  plan.dpus = plan.doorways.map((d) => ({ id: dpuIdFor(d.id, site), doorway: d.id }));
  const secrets = planSecrets(plan);
  const put = await stack.admin("PUT", `/api/v1/sites/${site}/topology`, toTopologyDoc(plan, secrets));
  if (put.status !== 200) throw new Error(`topology refused: ${put.status} ${await put.text()}`);
  await new Promise((r) => setTimeout(r, 1000)); // the broker's registry follows KV
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-wall-dpus-"));
  try {
    const durationMs = o.minutes * 60_000;
    await runBuildingSim({
      mqttUrl: stack.mqttUrl, plan, secrets, walkers: o.walkers, durationMs, startTs: Date.now() - durationMs - 30_000,
      seed: o.seed, dataDir, walk: { meanDwellMs: 6 * 60_000, meanVisits: 3 },
    });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { plan, secrets };
}

/**
 * The camera mall (spaces with floor outlines, 14 cameras) with a DPU on every doorway: the
 * cameras' frames of the last `minutes` over MQTT, the same walkers' doorway crossings through
 * the DPUs' HTTP ingest.
 */
export async function seedPlanSite(stack: TestStack, site: string, o: { walkers: number; minutes: number; seed: number; fps?: number }): Promise<{ plan: CameraMallPlan; startTs: number; endTs: number }> {
  const mall = cameraMall(site, { siteScopedIds: true });
  const plan: CameraMallPlan = { ...mall, spaces: mall.spaces.map((sp) => ({ ...sp, capacity: PLAN_CAPACITY[sp.kind] })) };
  const secrets = cameraMallSecrets(plan, { dpus: true });
  const put = await stack.admin("PUT", `/api/v1/sites/${site}/topology`, toCameraTopologyDoc(plan, secrets, { dpus: true }));
  if (put.status !== 200) throw new Error(`topology refused: ${put.status} ${await put.text()}`);
  await new Promise((r) => setTimeout(r, 1000));
  const durationMs = o.minutes * 60_000;
  const startTs = Math.floor((Date.now() - durationMs - 20_000) / 1000) * 1000;
  const walkers = simulateCameraWalkers({ plan, walkers: o.walkers, startTs, durationMs, seed: o.seed, pauseMs: [5_000, 20_000] });
  await runCameraSim({ mqttUrl: stack.mqttUrl, plan, secrets, walkers, durationMs, startTs, seed: o.seed, fps: o.fps ?? 5 });
  const crossings = walkerDoorCrossings(plan, walkers, startTs + durationMs);
  const byDevice = new Map<string, typeof crossings>();
  for (const c of crossings) byDevice.set(c.device, [...(byDevice.get(c.device) ?? []), c]);
  for (const [device, list] of byDevice) {
    for (let i = 0; i < list.length; i += 1000) {
      const events = list.slice(i, i + 1000).map((c, k) => ({ id: `w-${i + k}`, ts: c.ts, doorway: c.doorway, delta: c.delta }));
      const r = await fetch(`${stack.apiUrl}/api/v1/dpus/${device}/crossings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${device}:${secrets[device]}`).toString("base64")}` },
        body: JSON.stringify(events),
      });
      if (r.status !== 201 && r.status !== 409) throw new Error(`ingest refused for ${device}: ${r.status} ${await r.text()}`);
    }
  }
  return { plan, startTs, endTs: startTs + durationMs };
}

/** A key made through the key store in KV (as POST /api/v1/keys does), once the API honours it. */
export async function createKey(stack: TestStack, sites: string[] | "*", role: KeyRole = "viewer"): Promise<{ id: string; key: string }> {
  const nc = await connectNats(stack.cfg.natsUrl!, "wall-test-keys");
  try {
    const store = await KeyStore.open(nc);
    const created = await store.create({ role, sites, name: `wall test ${role}` });
    store.close();
    const probe = sites === "*" ? "any-site" : sites[0]!;
    await eventually("the API knows the new key", async () =>
      (await fetch(`${stack.apiUrl}/wall/${probe}?key=${encodeURIComponent(created.key)}`, { redirect: "manual" })).status === 303);
    return created;
  } finally {
    await nc.close();
  }
}

/** Waits until the API's counts settle (the actors have written what was published). */
export async function settledCount(stack: TestStack, pathname: string, quietMs = 1500, timeoutMs = 60_000): Promise<number> {
  let last = -1, since = Date.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await stack.admin("GET", pathname);
    const body = (await r.json()) as { count?: number };
    const n = body.count ?? -1;
    if (n !== last) { last = n; since = Date.now(); }
    else if (Date.now() - since >= quietMs && n >= 0) return n;
    if (Date.now() > deadline) throw new Error(`count at ${pathname} did not settle (last ${last})`);
    await new Promise((res) => setTimeout(res, 300));
  }
}
