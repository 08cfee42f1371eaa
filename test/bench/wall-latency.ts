/**
 * Publish → pixel latency of the wall (a script, not a test): the bench stack (its own
 * nats-server and influxd, the broker and an actor host as child processes, the API in this
 * process) and real Chromium showing the wall of a one-doorway DPU site. Crossings are published
 * over MQTT one at a time (QoS 1, the DPU's own credentials); in the page a MutationObserver on
 * the tiles records when the space's count changes, and the next animation frame stands for the
 * paint (same machine clock as the publisher). Each crossing waits for its count on the wall
 * before the next is published.
 *
 *   npx tsx test/bench/wall-latency.ts [--crossings 100]
 *
 * Prints p50 / p99 / max, then one JSON line. measureWallLatency() is the same for other scripts.
 */
import { pathToFileURL } from "node:url";
import os from "node:os";
import mqtt from "mqtt";
import { Command } from "commander";
import { deviceTopic } from "../../contracts/topics.ts";
import { buildWall } from "../../dashboards/wall/build.ts";
import { launchChromium } from "../support/browser.ts";
import { startBenchStack } from "./bench-stack.ts";

export interface WallLatencyOptions {
  /** crossings published, one at a time (default 100) */
  crossings?: number;
  /** log progress to stderr */
  log?: (line: string) => void;
}

export interface WallLatency {
  crossings: number;
  /** publish → the count's new value painted (next animation frame after the DOM change), ms */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** publish → the DOM change alone, ms */
  domP50Ms: number;
  domP99Ms: number;
  machine: string;
}

const SITE = "latency";
const SPACE = "shop";
const DPU = "dpu-latency";
const SECRET = "latency-door-secret-0123";

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

export async function measureWallLatency(opts: WallLatencyOptions = {}): Promise<WallLatency> {
  const n = opts.crossings ?? 100;
  const log = opts.log ?? (() => {});
  await buildWall();
  const stack = await startBenchStack({ hosts: 1 });
  const api = `http://127.0.0.1:${stack.apiPort}`;
  const admin = (method: string, p: string, body?: unknown) => fetch(`${api}${p}`, {
    method, headers: { authorization: `Bearer ${stack.cfg.adminToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const browser = await launchChromium();
  let client: mqtt.MqttClient | undefined;
  try {
    const topo = await admin("PUT", `/api/v1/sites/${SITE}/topology`, {
      spaces: [{ id: SPACE, name: "Shop", capacity: 500 }],
      doorways: [{ id: "door", entering_to: SPACE, exiting_to: "outside" }],
      devices: [{ id: DPU, kind: "dpu", doorway: "door", secret: SECRET }],
    });
    if (topo.status !== 200) throw new Error(`topology refused: ${topo.status} ${await topo.text()}`);
    const made = await admin("POST", "/api/v1/keys", { role: "viewer", sites: [SITE], name: "latency bench wall" });
    if (made.status !== 201 && made.status !== 200) throw new Error(`key refused: ${made.status} ${await made.text()}`);
    const { key } = (await made.json()) as { key: string };

    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.cfg.mqttPort}`, { clientId: DPU, username: DPU, password: SECRET, clean: true, reconnectPeriod: 0 });
    const topic = deviceTopic(SITE, "dpu", DPU, "crossing");
    let id = 0;
    const publish = (delta: 1 | -1) => client!.publishAsync(topic, JSON.stringify({ id: `lat-${++id}`, ts: Date.now(), doorway: "door", delta }), { qos: 1 });

    // the first crossing makes the count exist before the page opens
    await publish(1);
    let count = 1;
    const tp = await browser.open();
    const page = tp.page;
    for (let i = 0; ; i++) {
      const r = await page.goto(`${api}/wall/${SITE}?key=${encodeURIComponent(key)}`);
      if (r?.status() === 200) break;
      if (i > 50) throw new Error(`wall answered ${r?.status()}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.waitForSelector('[data-testid="live-state"][data-state="live"]', { timeout: 60_000 });
    const sel = `[data-testid="tiles"] [data-space="${SPACE}"] [data-role="count"]`;
    await page.waitForFunction(([s, want]) => document.querySelector(s)?.textContent?.replace(/,/g, "") === want, [sel, String(count)] as const, { timeout: 60_000 });

    await page.evaluate((s) => {
      const w = window as unknown as { __seen: Array<{ text: string; dom: number; paint: number }> };
      w.__seen = [];
      let last = document.querySelector(s)?.textContent ?? "";
      const root = document.querySelector('[data-testid="tiles"]')!;
      new MutationObserver(() => {
        const text = document.querySelector(s)?.textContent ?? "";
        if (text === last) return;
        last = text;
        const dom = Date.now();
        requestAnimationFrame(() => { w.__seen.push({ text, dom, paint: Date.now() }); });
      }).observe(root, { subtree: true, childList: true, characterData: true });
    }, sel);

    const paint: number[] = [], dom: number[] = [];
    let seen = 0;
    for (let i = 0; i < n; i++) {
      const delta: 1 | -1 = count >= 2 ? -1 : 1;
      count += delta;
      const t0 = Date.now();
      await publish(delta);
      const handle = await page.waitForFunction(([from, want]) => {
        const w = window as unknown as { __seen: Array<{ text: string; dom: number; paint: number }> };
        const hit = w.__seen.slice(from).findIndex((x) => x.text.replace(/,/g, "") === want);
        return hit < 0 ? false : { at: from + hit, ...w.__seen[from + hit]! };
      }, [seen, String(count)] as const, { timeout: 30_000, polling: 20 });
      const hit = (await handle.jsonValue()) as { at: number; dom: number; paint: number };
      seen = hit.at + 1;
      paint.push(hit.paint - t0);
      dom.push(hit.dom - t0);
      if ((i + 1) % 25 === 0) log(`${i + 1}/${n} crossings, last ${hit.paint - t0} ms`);
    }
    const problems = tp.unexpected();
    if (problems.length) log(`console errors on the wall: ${JSON.stringify(problems.slice(0, 3))}`);
    const ps = [...paint].sort((a, b) => a - b), ds = [...dom].sort((a, b) => a - b);
    return {
      crossings: n,
      p50Ms: quantile(ps, 0.5), p99Ms: quantile(ps, 0.99), maxMs: ps[ps.length - 1]!,
      meanMs: Math.round(ps.reduce((a, b) => a + b, 0) / ps.length),
      domP50Ms: quantile(ds, 0.5), domP99Ms: quantile(ds, 0.99),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, node ${process.version}`,
    };
  } finally {
    await client?.endAsync().catch(() => {});
    await browser.close();
    await stack.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = new Command().option("--crossings <n>", "crossings published one at a time", "100").parse().opts<{ crossings: string }>();
  const r = await measureWallLatency({ crossings: Number(o.crossings), log: (l) => console.error(l) });
  console.log(`wall publish → pixel over ${r.crossings} crossings (MQTT QoS 1 → broker → JetStream → actors → FF_EVENTS → live feed → Chromium paint)`);
  console.log(`  p50 ${r.p50Ms} ms   p99 ${r.p99Ms} ms   max ${r.maxMs} ms   mean ${r.meanMs} ms   (DOM change alone: p50 ${r.domP50Ms} ms, p99 ${r.domP99Ms} ms)`);
  console.log(JSON.stringify({ bench: "wall-latency", ...r }));
}
