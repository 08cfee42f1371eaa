import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../../infra/config.ts";
import { freePort } from "./ports.ts";
import { eventually } from "./retry.ts";
import { metricSamples } from "./metrics-text.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");

/** One more edge broker as a real child process (`footfall broker`, own MQTT and ops ports), so a test can SIGKILL it. */
export interface BrokerProcess {
  child: ChildProcess;
  mqttPort: number;
  opsPort: number;
  mqttUrl: string;
  /** SIGKILL: its sockets are closed by the kernel, in-flight publishes get no PUBACK */
  kill(): Promise<void>;
  /** SIGTERM: a clean stop */
  stop(): Promise<void>;
}

/** Starts `footfall broker` against the stack's NATS and InfluxDB, on fresh ports; resolves once its /healthz is ok. */
export async function startBrokerProcess(cfg: Config): Promise<BrokerProcess> {
  const mqttPort = await freePort();
  const opsPort = await freePort();
  const child = spawn(process.execPath, [CLI, "broker"], {
    env: {
      ...process.env,
      NATS_URL: cfg.natsUrl, INFLUX_URL: cfg.influxUrl, FOOTFALL_DATA_DIR: cfg.dataDir, FOOTFALL_INFLUX_DB: cfg.influxDb,
      FOOTFALL_PARTITIONS: String(cfg.partitions), FOOTFALL_LEASE_TTL_MS: String(cfg.leaseTtlMs),
      FOOTFALL_MQTT_PORT: String(mqttPort), FOOTFALL_BROKER_OPS_PORT: String(opsPort),
      FOOTFALL_LOG_LEVEL: process.env.FOOTFALL_TEST_BROKER_LOG ?? "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<void>((r) => child.once("exit", () => { process.off("exit", killOnExit); r(); }));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const b: BrokerProcess = {
    child, mqttPort, opsPort, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    kill: async () => { if (alive()) { child.kill("SIGKILL"); await exited; } },
    stop: async () => { if (alive()) { child.kill("SIGTERM"); await exited; } },
  };
  try {
    await eventually(`broker process on ops port ${opsPort}`, async () => {
      if (!alive()) throw new Error(`footfall broker exited (${child.exitCode ?? child.signalCode})`);
      return (await fetch(`http://127.0.0.1:${opsPort}/healthz`)).ok;
    }, 30_000);
  } catch (e) {
    await b.kill();
    throw e;
  }
  return b;
}

/** The sum of a counter's samples on a /metrics page that carry `labels` (0 when absent). */
export async function metricSum(opsPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const matches = (m: { name: string; labels: Record<string, string> }) => m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v);
  return (await metricSamples(`http://127.0.0.1:${opsPort}/metrics`)).reduce((sum, m) => (matches(m) ? sum + m.value : sum), 0);
}
