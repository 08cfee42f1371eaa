import fs from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import { mqttUrlFor, ownClientTlsOf } from "../infra/tls.ts";
import { serveExtractor } from "../models/nats-extractor.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "./camera-mall.ts";
import type { CameraMallPlan } from "./camera-mall-plan.ts";
import { runCameraSim } from "./camera-run.ts";
import { SimulatedExtractor } from "./simulated-extractor.ts";

export const CAMERA_SITE = "camera-mall";
const SecretsFile = z.record(z.string(), z.string().min(8));
/** how long one live run lasts before the next starts (the walkers of a run are drawn up front) */
const RUN_MS = 4 * 3_600_000;

function cameraSecrets(plan: CameraMallPlan, dataDir: string, log: Logger): Record<string, string> {
  const file = path.join(dataDir, "camera-secrets.json");
  try {
    const held = SecretsFile.parse(JSON.parse(fs.readFileSync(file, "utf8")));
    if (plan.cameras.every((c) => held[c.id] !== undefined)) return held;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.warn({ file, err: e }, "camera secrets unreadable; making new ones");
  }
  const secrets = cameraMallSecrets(plan);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  return secrets;
}

/**
 * The camera half of `footfall up --demo`: registers the camera mall (14 smart cameras, shops and
 * corridors with floor outlines) and runs its cameras in real time at 5 fps, walkers arriving
 * about 20 a minute, with the simulator's usual faults; these cameras also send 16-number re-ID
 * embeddings (camera-embedding.ts), which the linker uses. It also serves the simulated attribute
 * extractor on NATS, so queries on attributes the cameras do not extract (shoes=) run a
 * re-processing job and then answer.
 */
export async function startCameraDemo(cfg: Config, o: { nc: NatsConnection; apiUrl: string; dataDir: string; log: Logger; viewerKey: string }): Promise<{ stop(): Promise<void>; banner: string[] }> {
  const log = o.log.child({ component: "camera-demo" });
  const plan = cameraMall(CAMERA_SITE);
  const secrets = cameraSecrets(plan, o.dataDir, log);
  const r = await fetch(`${o.apiUrl}/api/v1/sites/${plan.site}/topology`, {
    method: "PUT",
    headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(toCameraTopologyDoc(plan, secrets)),
  });
  if (r.status !== 200) throw new Error(`could not register the camera mall: HTTP ${r.status} ${(await r.text()).slice(0, 300)}`);
  await new Promise((res) => setTimeout(res, 1000)); // the broker's registry follows KV

  const host = ["0.0.0.0", "::", ""].includes(cfg.bind) ? "127.0.0.1" : cfg.bind;
  const tls = ownClientTlsOf(cfg);
  const abort = new AbortController();
  let served: { stop(): void } | undefined;
  const running = (async () => {
    for (let run = 0; !abort.signal.aborted; run++) {
      await runCameraSim({
        mqttUrl: mqttUrlFor(cfg, host), ...(tls ? { mqttCa: tls.ca } : {}), plan, secrets, walkers: Math.round((RUN_MS / 60_000) * 20), durationMs: RUN_MS,
        startTs: Date.now(), seed: Date.now() % 1_000_000, fps: 5, embeddingDims: 16, speed: 1, maxInFlight: 64, signal: abort.signal, log,
        onStart: (truth) => {
          served?.stop();
          served = serveExtractor(o.nc, new SimulatedExtractor(truth), log);
        },
      });
    }
  })().catch((e: Error) => { log.error({ err: e }, "camera demo failed"); });

  const auth = `${tls ? `--cacert ${tls.caFile} ` : ""}-H 'Authorization: Bearer ${o.viewerKey}'`;
  const banner = [
    `  Cameras:    site ${plan.site}: ${plan.cameras.length} smart cameras at 5 fps, ${plan.spaces.length} spaces with floor outlines, people arriving in real time`,
    `  try:        curl ${auth} '${o.apiUrl}/api/v1/paths?site=${plan.site}&upper=blue&limit=5'`,
    `              curl ${auth} '${o.apiUrl}/api/v1/stats/distance?site=${plan.site}'`,
    `              curl ${auth} '${o.apiUrl}/api/v1/sites/${plan.site}/zones/corridor-west/occupancy'`,
    `              curl ${auth} '${o.apiUrl}/api/v1/sites/${plan.site}/cameras'`,
  ];
  return {
    banner,
    async stop() {
      abort.abort();
      await running;
      served?.stop();
    },
  };
}
