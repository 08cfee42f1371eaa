import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig, type Config } from "../../infra/config.ts";
import { runApi } from "../../api/main.ts";
import { startTestServices } from "../support/services.ts";
import { freePort } from "../support/ports.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");

export interface BenchStack {
  cfg: Config;
  apiPort: number;
  /** the environment the stack's child processes run with (for more of them, e.g. `footfall gateway`) */
  env: NodeJS.ProcessEnv;
  /** the footfall CLI (run it with process.execPath) */
  cli: string;
  /** process ids of the broker, the actor hosts, nats-server and influxd (for their CPU time) */
  pids: { broker: number; hosts: number[]; nats: number; influxd: number };
  stop(): Promise<void>;
}

/**
 * The stack a benchmark measures: its own nats-server and influxd, the API in the bench process,
 * the broker and `hosts` actor hosts as child processes (as in production, so their CPU is their
 * own; `profileDir` writes their V8 CPU profiles). stop() ends everything.
 */
export async function startBenchStack(o: { hosts: number; profileDir?: string | undefined }): Promise<BenchStack> {
  const services = await startTestServices();
  const cfg = loadConfig({
    dataDir: services.dataDir, natsUrl: services.natsUrl, influxUrl: services.influxUrl,
    httpPort: await freePort(), mqttPort: await freePort(), brokerOpsPort: await freePort(), hostOpsPort: 0,
    logLevel: "warn", adminToken: "bench-admin-token",
  });
  const env = { ...process.env, NATS_URL: cfg.natsUrl, INFLUX_URL: cfg.influxUrl, FOOTFALL_DATA_DIR: cfg.dataDir,
    FOOTFALL_MQTT_PORT: String(cfg.mqttPort), FOOTFALL_BROKER_OPS_PORT: String(cfg.brokerOpsPort), FOOTFALL_LOG_LEVEL: "warn",
    FOOTFALL_ADMIN_TOKEN: cfg.adminToken };
  const api = await runApi(cfg);
  const prof = o.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(o.profileDir)}`] : [];
  const children: ChildProcess[] = [spawn(process.execPath, [...prof, CLI, "broker"], { env, stdio: "inherit" })];
  for (let i = 0; i < o.hosts; i++) children.push(spawn(process.execPath, [...prof, CLI, "host"], { env: { ...env, FOOTFALL_HOST_OPS_PORT: "0" }, stdio: "inherit" }));
  const stop = async () => {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once("exit", r)))));
    await api.stop();
    await services.stop();
  };
  const healthz = `http://127.0.0.1:${cfg.brokerOpsPort}/healthz`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(healthz)).ok) break; } catch { /* not yet */ }
    // a loaded machine can take a while; give up after a minute, leaving nothing running
    if (i >= 600) {
      await stop();
      throw new Error(`${healthz} not healthy`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { cfg, apiPort: api.port, env, cli: CLI, pids: {
    broker: children[0]!.pid!, hosts: children.slice(1).map((c) => c.pid!),
    nats: services.nats!.proc.child.pid!, influxd: services.influxd!.proc.child.pid!,
  }, stop };
}
