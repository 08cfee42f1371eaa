import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import { Agent } from "undici";
import { loadConfig, type Config } from "../../infra/config.ts";
import { runBroker } from "../../broker/main.ts";
import { runApi } from "../../api/main.ts";
import { startTestServices, type TestServices } from "./services.ts";
import { freePort } from "./ports.ts";
import { eventually } from "./retry.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");

/** An actor host running as a real child process (`footfall host`), so tests can SIGKILL it. */
export interface HostProcess { child: ChildProcess; opsPort: number; kill(): Promise<void>; stop(): Promise<void> }

/**
 * The whole footfall stack for an end-to-end test: real nats-server + influxd (own ports,
 * temp store), the MQTT broker and the HTTP API in this process, actor hosts as child processes.
 * With tlsCert / tlsKey in the overrides: https:// and mqtts:// (tlsCa: what the helpers trust).
 */
export interface TestStack {
  cfg: Config;
  services: TestServices;
  apiUrl: string;
  mqttUrl: string;
  hosts: HostProcess[];
  /** healthy: wait until its /healthz says ok (default); false: until it answers at all */
  startHost(opts?: { healthy?: boolean }): Promise<HostProcess>;
  admin(method: string, pathname: string, body?: unknown): Promise<Response>;
  /**
   * fetch `pathname` (from the API's root) with the admin bearer token, unless `init` sends its
   * own authorization; a keep-alive connection the server closed meanwhile is retried once
   */
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  /** Stops the API (its stop(), as on SIGTERM); startApi() runs it again on the same port with the same config. */
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestStack(opts: {
  hosts?: number; partitions?: number; overrides?: Partial<Config>;
  /** more environment for the actor host processes */
  hostEnv?: Record<string, string>;
} = {}): Promise<TestStack> {
  const services = await startTestServices();
  let cfg = loadConfig({
    dataDir: services.dataDir,
    natsUrl: services.natsUrl,
    influxUrl: services.influxUrl,
    httpPort: await freePort(),
    mqttPort: await freePort(),
    brokerOpsPort: await freePort(),
    hostOpsPort: 0,
    partitions: opts.partitions ?? 8,
    leaseTtlMs: 2000,
    flushMs: 50,
    checkpointMs: 300,
    // snapshots lag the checkpoints: a killed host replays more, which must change nothing
    snapshotMs: 2000,
    // a simulated stream's end is linked sooner (the stack's tests hold no camera up for long)
    linkerQuietMs: 5000,
    logLevel: "warn",
    adminToken: "test-admin-token",
    ...opts.overrides,
  });
  const hosts: HostProcess[] = [];
  const started: Array<{ stop(): Promise<void> }> = [];
  // a stack that fails to come up takes down what it had started (no orphaned services)
  const abandon = async (e: unknown): Promise<never> => {
    await Promise.allSettled(hosts.map((h) => h.kill()));
    for (const p of started.reverse()) await p.stop().catch(() => {});
    await services.stop();
    throw e;
  };
  const broker = await onFreshPorts(() => runBroker(cfg), async () => {
    cfg = { ...cfg, mqttPort: await freePort(), brokerOpsPort: await freePort() };
  }).catch(abandon);
  started.push(broker);
  let api: Awaited<ReturnType<typeof runApi>> | undefined = await onFreshPorts(() => runApi(cfg), async () => {
    cfg = { ...cfg, httpPort: await freePort() };
  }).catch(abandon);
  const apiPort = api.port;
  started.push({ stop: async () => { await api?.stop(); } });

  const env = (opsPort: number): NodeJS.ProcessEnv => ({
    ...process.env,
    NATS_URL: cfg.natsUrl, INFLUX_URL: cfg.influxUrl, FOOTFALL_DATA_DIR: cfg.dataDir,
    FOOTFALL_PARTITIONS: String(cfg.partitions), FOOTFALL_LEASE_TTL_MS: String(cfg.leaseTtlMs),
    FOOTFALL_FLUSH_MS: String(cfg.flushMs), FOOTFALL_CHECKPOINT_MS: String(cfg.checkpointMs),
    FOOTFALL_IDLE_MS: String(cfg.idleMs), FOOTFALL_SNAPSHOT_MS: String(cfg.snapshotMs), FOOTFALL_HOST_OPS_PORT: String(opsPort),
    FOOTFALL_LOG_LEVEL: process.env.FOOTFALL_TEST_HOST_LOG ?? "warn", FOOTFALL_INFLUX_DB: cfg.influxDb,
    FOOTFALL_LATE_HORIZON_H: String(cfg.lateHorizonHours),
    FOOTFALL_CAMERA_REORDER_MS: String(cfg.cameraReorderMs), FOOTFALL_PERSON_SILENCE_S: String(cfg.personSilenceS),
    FOOTFALL_LINKER_WAIT_MS: String(cfg.linkerWaitMs), FOOTFALL_LINKER_QUIET_MS: String(cfg.linkerQuietMs),
    FOOTFALL_MAX_FUTURE_MS: String(cfg.maxFutureMs),
    ...opts.hostEnv,
  });

  async function startHost({ healthy = true }: { healthy?: boolean } = {}): Promise<HostProcess> {
    const opsPort = await freePort();
    const child = spawn(process.execPath, [CLI, "host"], { env: env(opsPort), stdio: ["ignore", "inherit", "inherit"] });
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    const exited = new Promise<void>((r) => child.once("exit", () => { process.off("exit", killOnExit); r(); }));
    const h: HostProcess = {
      child, opsPort,
      kill: async () => { if (child.exitCode === null && child.signalCode === null) { child.kill("SIGKILL"); await exited; } },
      stop: async () => { if (child.exitCode === null && child.signalCode === null) { child.kill("SIGTERM"); await exited; } },
    };
    hosts.push(h);
    await eventually(`actor host on ops port ${opsPort}`, async () => {
      const r = await fetch(`http://127.0.0.1:${opsPort}/healthz`);
      return healthy ? r.ok : true;
    }, 30_000);
    return h;
  }
  for (let i = 0; i < (opts.hosts ?? 1); i++) await startHost().catch(abandon);

  // with FOOTFALL_TLS_CERT / _KEY the API is https:// and MQTT mqtts:// on mqttsPort; the test's
  // own requests trust cfg.tlsCa
  const tls = Boolean(cfg.tlsCert && cfg.tlsKey);
  const dispatcher = tls && cfg.tlsCa ? new Agent({ connect: { ca: fs.readFileSync(cfg.tlsCa) } }) : undefined;
  const trusted = dispatcher ? { dispatcher } as RequestInit : {};
  const apiUrl = `${tls ? "https" : "http"}://127.0.0.1:${apiPort}`;
  return {
    cfg, services, apiUrl, mqttUrl: tls ? `mqtts://127.0.0.1:${cfg.mqttsPort}` : `mqtt://127.0.0.1:${cfg.mqttPort}`, hosts, startHost,
    ...apiClient(apiUrl, cfg.adminToken, trusted),
    async stopApi() {
      const a = api;
      api = undefined;
      await a?.stop();
    },
    async startApi() {
      if (api) return;
      api = await runApi({ ...cfg, httpPort: apiPort });
    },
    async stop() {
      await Promise.all(hosts.map((h) => h.stop()));
      await api?.stop();
      await broker.stop();
      await services.stop();
    },
  };
}

/**
 * Requests to an API as its admin: admin() sends a JSON body; fetch() adds the admin token unless
 * `init` carries its own authorization, and asks once more when a keep-alive connection the server
 * closed meanwhile fails. `extra` goes into every request (e.g. a TLS dispatcher).
 */
export function apiClient(apiUrl: string, adminToken: string, extra: RequestInit = {}): Pick<TestStack, "admin" | "fetch"> {
  return {
    admin: (method, pathname, body) => fetch(`${apiUrl}${pathname}`, {
      ...extra,
      method,
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    fetch: (pathname, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${adminToken}`);
      const go = () => fetch(`${apiUrl}${pathname}`, { ...extra, ...init, headers });
      return go().catch(() => go());
    },
  };
}

/**
 * Runs start(); when a port it was given was taken in the meantime (freePort() only found it free:
 * another process, or an outgoing connection's local port, may take it before the listen), picks
 * new ports with repick() and tries again, at most three times.
 */
async function onFreshPorts<T>(start: () => Promise<T>, repick: () => Promise<void>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (attempt >= 3 || (e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      await repick();
    }
  }
}
