import fs from "node:fs";
import path from "node:path";
import type { CreatedKey } from "../../contracts/api-keys.ts";
import type { DemoGroundTruth } from "../../contracts/demo-truth.ts";
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { connectNats, natsServersOf } from "../nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../provision.ts";
import { redactUrl, serviceSecretsFile } from "../service-secrets.ts";
import { startServices } from "../services/index.ts";
import { exitOnSignal } from "../process.ts";
import { ownClientTlsOf, serverTlsOf, trustOnlyForFetch, writeSelfSigned } from "../tls.ts";
import { Supervised } from "./supervisor.ts";

/**
 * `footfall up`: services as supervised children (unless NATS_URL / INFLUX_URL are given; with
 * `nodes` 3, a three-node NATS JetStream cluster and every stream and bucket with 3 replicas), provisioning,
 * then broker, actor host and API as supervised child processes; with demo, two simulated malls
 * (one with doorway sensors, one with smart cameras) and the camera agent on real footage (vtest.avi),
 * each with a viewer key whose wall URL and MQTT results line are printed.
 * With `tls` (or FOOTFALL_TLS_CERT / _KEY): MQTT over TLS only, the API over HTTPS only; without
 * the operator's pair a self-signed one is made under {data dir}/tls; the banner shows the CA lines.
 * SIGINT / SIGTERM stop everything in order: simulator, API and broker (no new input), actor
 * host (drains, flushes, checkpoints), then influxd and nats-server.
 */
export async function runStack(given: Config, opts: { demo: boolean; tls?: boolean; nodes?: number }): Promise<void> {
  let cfg = given;
  const log = createLogger("footfall-up", cfg.logLevel);
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  // --tls without the operator's pair: a self-signed one under {data dir}/tls (kept across starts)
  if (opts.tls && !cfg.tlsCert && !cfg.tlsKey) {
    const pair = await writeSelfSigned(path.join(cfg.dataDir, "tls"), { hosts: [cfg.bind] });
    log.info({ cert: pair.cert, created: pair.created }, "self-signed TLS certificate");
    cfg = { ...cfg, tlsCert: pair.cert, tlsKey: pair.key, tlsCa: cfg.tlsCa ?? pair.cert };
  }
  serverTlsOf(cfg); // a pair that cannot be used stops here, before anything starts
  const tls = ownClientTlsOf(cfg);
  // our own requests (health checks, the demo's set-up) verify the API against that CA
  if (tls) trustOnlyForFetch(tls.ca);
  const host = ["0.0.0.0", "::", ""].includes(cfg.bind) ? "127.0.0.1" : cfg.bind;
  const services = await startServices(cfg, log, { natsNodes: opts.nodes ?? 1 });
  const nc = await connectNats(services.natsUrl, "footfall-up", log);
  const replicas = services.replicas;
  await provisionNats(nc, { ...cfg, ...(replicas ? { replicas } : {}) }, log);
  await provisionInflux(influxClient(services.influxUrl, cfg.influxDb), cfg, log);

  // the children connect with the services' credentials, which travel in the URLs (user:password@)
  const env: NodeJS.ProcessEnv = {
    ...process.env, NATS_URL: services.natsUrl, INFLUX_URL: services.influxUrl, FOOTFALL_DATA_DIR: cfg.dataDir,
    ...(replicas ? { FOOTFALL_REPLICAS: String(replicas) } : {}),
    ...(tls ? { FOOTFALL_TLS_CERT: cfg.tlsCert, FOOTFALL_TLS_KEY: cfg.tlsKey, FOOTFALL_TLS_CA: tls.caFile } : {}),
  };
  const procs = {
    broker: new Supervised("broker", ["broker"], env, log),
    host: new Supervised("host", ["host"], env, log),
    api: new Supervised("api", ["api"], env, log),
  };
  for (const p of Object.values(procs)) p.start();

  // with TLS the certificate names the host, not a wildcard bind address
  const apiUrl = tls ? `https://${host}:${cfg.httpPort}` : `http://${cfg.bind}:${cfg.httpPort}`;
  await waitHealthy(`${apiUrl}/healthz`, 60_000);
  await waitHealthy(`http://${cfg.bind}:${cfg.brokerOpsPort}/healthz`, 60_000);

  let demo: { stop(): Promise<void>; banner: string[]; truthFile: string; stopWalkers(): Promise<DemoGroundTruth> } | undefined;
  let cameraDemo: { stop(): Promise<void>; banner: string[] } | undefined;
  let videoDemo: { stop(): Promise<void>; banner: string[] } | undefined;
  const readers: string[] = [];
  if (opts.demo) {
    const demoDir = path.join(cfg.dataDir, "demo");
    fs.mkdirSync(demoDir, { recursive: true }); // a fresh data folder: the viewer keys are written here first
    const { demoViewerKey } = await import("../../firmware-sim/demo-keys.ts");
    const { startDemo, DEMO_SITE } = await import("../../firmware-sim/demo.ts");
    const { startCameraDemo, CAMERA_SITE } = await import("../../firmware-sim/camera-demo.ts");
    const { startVideoDemo, PLAZA_SITE } = await import("../../firmware-sim/video-demo.ts");
    const keys: Record<string, CreatedKey> = {};
    for (const site of [DEMO_SITE, CAMERA_SITE, PLAZA_SITE]) keys[site] = await demoViewerKey(apiUrl, cfg.adminToken, demoDir, site);
    demo = await startDemo(cfg, { nc, apiUrl, dataDir: demoDir, log, viewerKey: keys[DEMO_SITE]!.key });
    cameraDemo = await startCameraDemo(cfg, { nc, apiUrl, dataDir: demoDir, log, viewerKey: keys[CAMERA_SITE]!.key });
    videoDemo = await startVideoDemo(cfg, { apiUrl, dataDir: demoDir, log, viewerKey: keys[PLAZA_SITE]!.key });
    const web = `${tls ? "https" : "http"}://${host}:${cfg.httpPort}`;
    Object.entries(keys).forEach(([site, k], i) => readers.push(`${i === 0 ? "  Walls:     " : "             "} ${web}/wall/${site}?key=${k.key}`));
    const mall = keys[DEMO_SITE]!;
    readers.push(`  MQTT out:   mosquitto_sub -h ${host} ${tls ? `-p ${cfg.mqttsPort} --cafile ${tls.caFile}` : `-p ${cfg.mqttPort}`} -u ${mall.id} -P '${mall.key}' -t 'footfall/v1/${DEMO_SITE}/out/#' -v`);
  }

  const lines = [
    "",
    "footfall is up.",
    `  API:        ${apiUrl}/api/v1   (OpenAPI: ${apiUrl}/api/v1/openapi.yaml)`,
    tls ? `  MQTT:       mqtts://${host}:${cfg.mqttsPort} (TLS only; plain MQTT and HTTP are not served)` : `  MQTT:       mqtt://${cfg.bind}:${cfg.mqttPort}`,
    ...(tls ? [
      `  TLS:        certificate ${cfg.tlsCert}; clients trust ${tls.caFile}:`,
      `              curl --cacert ${tls.caFile} ${apiUrl}/healthz`,
      `              mosquitto_pub -h ${host} -p ${cfg.mqttsPort} --cafile ${tls.caFile} -u <device> -P <secret> -t ... -m ...`,
    ] : []),
    `  metrics:    ${apiUrl}/metrics  http://${cfg.bind}:${cfg.brokerOpsPort}/metrics  http://${cfg.bind}:${cfg.hostOpsPort}/metrics`,
    ...(services.natsCluster
      ? [`  NATS:       ${services.natsCluster.nodes.length}-node JetStream cluster, streams and buckets with ${replicas ?? 1} replicas; seed list:`,
        `              ${natsServersOf(services.natsUrl).servers.join(",")}   (user and password in the file below)`]
      : []),
    `  InfluxDB:   ${redactUrl(services.influxUrl)} (database ${cfg.influxDb}; point Grafana here)`,
    ...(services.influxd ? [`  Service credentials (NATS, InfluxDB): ${serviceSecretsFile(cfg.dataDir)}`] : []),
    ...(demo ? [...readers, ...demo.banner, ...(cameraDemo?.banner ?? []), ...(videoDemo?.banner ?? [])] : ["  No devices yet: PUT a topology (see README) or run `footfall up --demo`."]),
    "  Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");

  // SIGUSR2: the demo mall's walkers stop (for good), its DPUs send what they hold, and its
  // ground truth is written: the counts the wall and the API must show once the actors caught up
  if (demo) {
    const mall = demo;
    process.on("SIGUSR2", () => {
      log.info("SIGUSR2: stopping the demo's walkers");
      mall.stopWalkers().then((t) => {
        process.stdout.write(`  demo-mall:  walkers stopped; ${t.acknowledged} crossings acknowledged, ${t.unacknowledged} not; people inside ${t.site_total}; ground truth in ${mall.truthFile}\n`);
      }, (err: unknown) => log.error({ err }, "stopping the demo's walkers failed"));
    });
  }

  exitOnSignal(async () => {
    await Promise.all([demo?.stop(), cameraDemo?.stop(), videoDemo?.stop()]);
    await Promise.all([procs.api.stop(), procs.broker.stop()]);
    await procs.host.stop();
    await nc.drain().catch(() => {});
    await services.stop();
    log.info("stopped");
  }, log);
}

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer healthy within ${timeoutMs} ms`);
}
