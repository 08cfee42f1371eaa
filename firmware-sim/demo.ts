import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { DemoGroundTruth } from "../contracts/demo-truth.ts";
import { deviceTopic } from "../contracts/topics.ts";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import { mqttUrlFor, ownClientTlsOf } from "../infra/tls.ts";
import { demoMall, planSecrets, toTopologyDoc, type BuildingPlan } from "./building.ts";
import { runLiveDemo } from "./building-run.ts";
import { DemoTruth } from "./demo-truth.ts";

export const DEMO_SITE = "demo-mall";
/** how long stopped walkers' DPUs get to send what they still hold */
const DRAIN_MS = 60_000;

export interface DemoMall {
  banner: string[];
  /** {dataDir}/ground-truth.json (contracts/demo-truth.ts) */
  truthFile: string;
  /**
   * Stops the walkers for good (the stack keeps running): no new crossings; the DPUs send what
   * they hold (up to a minute), then the ground truth is written. Resolves with it.
   */
  stopWalkers(): Promise<DemoGroundTruth>;
  /** Stops the demo (in-flight crossings get a second; the rest stays in the DPUs' disk buffers). */
  stop(): Promise<void>;
}
const SecretsFile = z.record(z.string(), z.string().min(8));

/** The demo's DPU secrets, kept in dataDir so a restarted demo keeps its devices' identities. */
function demoSecrets(plan: BuildingPlan, dataDir: string, log: Logger): Record<string, string> {
  const file = path.join(dataDir, "secrets.json");
  try {
    const held = SecretsFile.parse(JSON.parse(fs.readFileSync(file, "utf8")));
    if (plan.dpus.every((d) => held[d.id] !== undefined)) return held;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.warn({ file, err: e }, "demo secrets unreadable; making new ones");
  }
  const secrets = planSecrets(plan);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  return secrets;
}

async function putTopology(apiUrl: string, token: string, plan: BuildingPlan, secrets: Record<string, string>): Promise<void> {
  const url = `${apiUrl}/api/v1/sites/${plan.site}/topology`;
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(url, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(toTopologyDoc(plan, secrets)),
    }).catch((e: Error) => e);
    if (!(r instanceof Error) && r.status === 200) return;
    const why = r instanceof Error ? r.message : `HTTP ${r.status} ${(await r.text()).slice(0, 300)}`;
    if ((!(r instanceof Error) && r.status < 500) || attempt >= 10) throw new Error(`could not register the demo site at ${url}: ${why}`);
    await sleep(500);
  }
}

/**
 * `footfall up --demo`: registers the demo mall and runs it in real time (walkers keep
 * arriving, each crossing published by its DPU as it happens) until stop() or stopWalkers().
 * What the broker acknowledged is kept as ground truth (demo-truth.ts) under dataDir.
 */
export async function startDemo(cfg: Config, o: {
  /** not needed: the demo reaches the stack only through its HTTP API and MQTT, like real devices */
  nc?: unknown;
  apiUrl: string;
  dataDir: string;
  log: Logger;
  /** the site's viewer key, for the banner's curl lines */
  viewerKey: string;
}): Promise<DemoMall> {
  const log = o.log.child({ component: "demo" });
  const plan = demoMall(DEMO_SITE);
  const secrets = demoSecrets(plan, o.dataDir, log);
  await putTopology(o.apiUrl, cfg.adminToken, plan, secrets);

  const host = ["0.0.0.0", "::", ""].includes(cfg.bind) ? "127.0.0.1" : cfg.bind;
  const abort = new AbortController();
  const tls = ownClientTlsOf(cfg);
  const truth = new DemoTruth(plan, o.dataDir, log);
  let drainMs = 1000;
  const running = runLiveDemo({
    mqttUrl: mqttUrlFor(cfg, host), ...(tls ? { mqttCa: tls.ca } : {}), plan, secrets, dataDir: path.join(o.dataDir, "buffers"),
    signal: abort.signal, arrivalsPerMinute: 30, duplicateRate: 0.02, maxSkewMs: 200, log,
    get drainMs() { return drainMs; },
    onCrossing: (c, id) => truth.recorded(c.device, id),
    onAcked: (device, crossings) => truth.acknowledged(device, crossings),
  }).catch((e: Error) => { log.error({ err: e }, "live demo failed"); });
  let stoppedAt: number | undefined;
  const stopWalkers = async (drain: number) => {
    stoppedAt ??= Date.now();
    drainMs = drain;
    abort.abort();
    await running;
    return truth.write(stoppedAt);
  };

  const dpu = plan.dpus[0]!;
  const payload = `"{\\"id\\":\\"manual-$(date +%s)\\",\\"ts\\":$(date +%s%3N),\\"doorway\\":\\"${dpu.doorway}\\",\\"delta\\":1}"`;
  const cacert = tls ? `--cacert ${tls.caFile} ` : "";
  const banner = [
    `  Demo:       site ${plan.site}: ${plan.spaces.length} spaces, ${plan.doorways.length} doorways with DPUs, walkers arriving in real time`,
    `  try:        curl ${cacert}-H 'Authorization: Bearer ${o.viewerKey}' ${o.apiUrl}/api/v1/sites/${plan.site}/count`,
    `              curl ${cacert}-H 'Authorization: Bearer ${o.viewerKey}' ${o.apiUrl}/api/v1/sites/${plan.site}/spaces/lobby/count`,
    `  truth:      kill -USR2 ${process.pid} stops the walkers; once their DPUs sent everything, ${truth.truthFile} holds the counts the wall must show`,
    `  a crossing: mosquitto_pub -h ${host} ${tls ? `-p ${cfg.mqttsPort} --cafile ${tls.caFile}` : `-p ${cfg.mqttPort}`} -u ${dpu.id} -P '${secrets[dpu.id]}' -q 1 -t ${deviceTopic(plan.site, "dpu", dpu.id, "crossing")} -m ${payload}`,
  ];
  return {
    banner,
    truthFile: truth.truthFile,
    stopWalkers: () => stopWalkers(DRAIN_MS),
    async stop() { await stopWalkers(1000); },
  };
}
