import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { deviceTopic } from "../contracts/topics.ts";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import { mqttUrlFor, ownClientTlsOf } from "../infra/tls.ts";
import { demoMall, planSecrets, toTopologyDoc, type BuildingPlan } from "./building.ts";
import { runLiveDemo } from "./building-run.ts";

export const DEMO_SITE = "demo-mall";
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
 * arriving, each crossing published by its DPU as it happens) until stop().
 */
export async function startDemo(cfg: Config, o: {
  /** not needed: the demo reaches the stack only through its HTTP API and MQTT, like real devices */
  nc?: unknown;
  apiUrl: string;
  dataDir: string;
  log: Logger;
  /** the site's viewer key, for the banner's curl lines */
  viewerKey: string;
}): Promise<{ stop(): Promise<void>; banner: string[] }> {
  const log = o.log.child({ component: "demo" });
  const plan = demoMall(DEMO_SITE);
  const secrets = demoSecrets(plan, o.dataDir, log);
  await putTopology(o.apiUrl, cfg.adminToken, plan, secrets);

  const host = ["0.0.0.0", "::", ""].includes(cfg.bind) ? "127.0.0.1" : cfg.bind;
  const abort = new AbortController();
  const tls = ownClientTlsOf(cfg);
  const running = runLiveDemo({
    mqttUrl: mqttUrlFor(cfg, host), ...(tls ? { mqttCa: tls.ca } : {}), plan, secrets, dataDir: path.join(o.dataDir, "buffers"),
    signal: abort.signal, arrivalsPerMinute: 30, duplicateRate: 0.02, maxSkewMs: 200, log,
  }).catch((e: Error) => { log.error({ err: e }, "live demo failed"); });

  const dpu = plan.dpus[0]!;
  const payload = `"{\\"id\\":\\"manual-$(date +%s)\\",\\"ts\\":$(date +%s%3N),\\"doorway\\":\\"${dpu.doorway}\\",\\"delta\\":1}"`;
  const cacert = tls ? `--cacert ${tls.caFile} ` : "";
  const banner = [
    `  Demo:       site ${plan.site}: ${plan.spaces.length} spaces, ${plan.doorways.length} doorways with DPUs, walkers arriving in real time`,
    `  try:        curl ${cacert}-H 'Authorization: Bearer ${o.viewerKey}' ${o.apiUrl}/api/v1/sites/${plan.site}/count`,
    `              curl ${cacert}-H 'Authorization: Bearer ${o.viewerKey}' ${o.apiUrl}/api/v1/sites/${plan.site}/spaces/lobby/count`,
    `  a crossing: mosquitto_pub -h ${host} ${tls ? `-p ${cfg.mqttsPort} --cafile ${tls.caFile}` : `-p ${cfg.mqttPort}`} -u ${dpu.id} -P '${secrets[dpu.id]}' -q 1 -t ${deviceTopic(plan.site, "dpu", dpu.id, "crossing")} -m ${payload}`,
  ];
  return {
    banner,
    async stop() {
      abort.abort();
      await running;
    },
  };
}
