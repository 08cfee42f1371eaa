/**
 * Takes the README's picture of the wall (docs/wall.png): the test stack, the camera mall (floor
 * plan, 14 cameras, a DPU on every doorway) with simulated people walking in real time (camera
 * frames over MQTT, the same walkers' doorway crossings through HTTP ingest as they happen), and
 * Chromium at 1920×1080 showing the live wall a few minutes in.
 *
 *   npx tsx test/bench/wall-screenshot.ts [--walkers 70] [--minutes 3] [--out docs/wall.png]
 */
import { Command } from "commander";
import { buildWall } from "../../dashboards/wall/build.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import type { CameraMallPlan } from "../../firmware-sim/camera-mall-plan.ts";
import { runCameraSim } from "../../firmware-sim/camera-run.ts";
import { simulateCameraWalkers, walkerDoorCrossings } from "../../firmware-sim/camera-walkers.ts";
import { launchChromium } from "../support/browser.ts";
import { startTestStack } from "../support/stack.ts";
import { createKey } from "../dashboards/wall-fixture.ts";

const o = new Command()
  .option("--walkers <n>", "people arriving during the run", "70")
  .option("--minutes <n>", "how long people walk before the picture", "3")
  .option("--out <file>", "the picture", "docs/wall.png")
  .parse()
  .opts<{ walkers: string; minutes: string; out: string }>();

const SITE = "camera-mall";
const CAPACITY = { entrance: 20, corridor: 30, shop: 8 } as const;

await buildWall();
const stack = await startTestStack({ hosts: 1, partitions: 2 });
const browser = await launchChromium();
try {
  const mall = cameraMall(SITE, { siteScopedIds: true });
  const plan: CameraMallPlan = { ...mall, spaces: mall.spaces.map((sp) => ({ ...sp, capacity: CAPACITY[sp.kind] })) };
  const secrets = cameraMallSecrets(plan, { dpus: true });
  const put = await stack.admin("PUT", `/api/v1/sites/${SITE}/topology`, toCameraTopologyDoc(plan, secrets, { dpus: true }));
  if (put.status !== 200) throw new Error(`topology refused: ${put.status} ${await put.text()}`);
  await new Promise((r) => setTimeout(r, 1000));
  const key = (await createKey(stack, [SITE])).key;

  const shotAt = Number(o.minutes) * 60_000;
  const durationMs = shotAt + 10_000;
  const startTs = Date.now() + 2000;
  const walkers = simulateCameraWalkers({ plan, walkers: Number(o.walkers), startTs, durationMs, seed: 11, pauseMs: [5_000, 20_000], arrivalWindowMs: shotAt });
  const crossings = walkerDoorCrossings(plan, walkers, startTs + durationMs).sort((a, b) => a.ts - b.ts);
  const cams = runCameraSim({ mqttUrl: stack.mqttUrl, plan, secrets, walkers, durationMs, startTs, seed: 11, fps: 3, speed: 1 });
  // the doorways' DPUs send each crossing when it happens
  let next = 0, n = 0;
  const door = setInterval(() => {
    const due = [];
    while (next < crossings.length && crossings[next]!.ts <= Date.now()) due.push(crossings[next++]!);
    const byDevice = new Map<string, typeof due>();
    for (const c of due) byDevice.set(c.device, [...(byDevice.get(c.device) ?? []), c]);
    for (const [device, list] of byDevice) {
      void fetch(`${stack.apiUrl}/api/v1/dpus/${device}/crossings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${device}:${secrets[device]}`).toString("base64")}` },
        body: JSON.stringify(list.map((c) => ({ id: `s-${n++}`, ts: c.ts, doorway: c.doorway, delta: c.delta }))),
      }).catch(() => {});
    }
  }, 500);

  const tp = await browser.open();
  await tp.page.goto(`${stack.apiUrl}/wall/${SITE}?key=${encodeURIComponent(key)}`);
  await tp.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  const wait = startTs + shotAt - Date.now();
  console.error(`people walking; the picture in ${Math.round(wait / 1000)} s`);
  await new Promise((r) => setTimeout(r, Math.max(0, wait)));
  await tp.page.screenshot({ path: o.out, fullPage: false });
  await tp.page.screenshot({ path: "test-artifacts/wall-live-full.png", fullPage: false });
  console.error(`state ${await tp.page.getAttribute('[data-testid="live-state"]', "data-state")}, people ${await tp.page.getAttribute("body", "data-people")}, problems ${JSON.stringify(tp.unexpected())}`);
  clearInterval(door);
  console.log(o.out);
  await cams.catch(() => {});
} finally {
  await browser.close();
  await stack.stop();
}
