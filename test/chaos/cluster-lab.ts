import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { runApi } from "../../api/main.ts";
import { loadConfig, type Config } from "../../infra/config.ts";
import { connectNats } from "../../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../../infra/provision.ts";
import { startInfluxd } from "../../infra/services/influxd.ts";
import { startNatsCluster, type NatsCluster, type NatsServer } from "../../infra/services/nats-server.ts";
import { splitCredentials, withCredentials } from "../../infra/service-secrets.ts";
import { createLab, type Lab, type LabNode } from "../support/netns.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { apiClient } from "../support/stack.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { eventually } from "../support/retry.ts";
import { freePort } from "../support/ports.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "infra", "cli", "footfall.js");

const NATS_PORT = 4222;
const ROUTE_PORT = 6222;
const MQTT_PORT = 1883;
const BROKER_OPS_PORT = 9101;
export const HOST_OPS_PORT = 9102;

export type ProcKind = "broker" | "host";

/** One process on a lab node, started again on demand with the same command line. */
export class LabProc {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    readonly kind: ProcKind,
    readonly node: LabNode,
    private readonly argv: [string, ...string[]],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly ready: () => Promise<boolean>,
  ) {}

  get running(): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null; }
  get pid(): number | undefined { return this.child?.pid; }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) return;
    const out = fs.openSync(this.logFile, "a");
    const child = this.node.spawn(this.argv[0], this.argv.slice(1), { env: this.env, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    this.child = child;
    this.starts++;
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    this.exited = new Promise((r) => child.once("exit", () => { process.off("exit", killOnExit); r(); }));
    await eventually(`${this.kind} on ${this.node.name} (log ${this.logFile})`, async () => {
      if (!this.running) throw new Error(`${this.kind} on ${this.node.name} exited; see ${this.logFile}`);
      return this.ready();
    }, timeoutMs, 200);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill("SIGKILL");
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child!.kill("SIGTERM");
    const t = setTimeout(() => this.child?.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** a lab node's nats-server: supervised (killed, it is started again by its supervisor, as under `footfall up`) */
export interface LabNats { server: NatsServer; kill(): Promise<void> }

export interface LabMachine { node: LabNode; nats: LabNats; broker: LabProc; host: LabProc }

/**
 * footfall spread over network namespaces, as on separate machines: on each node one nats-server
 * (one JetStream cluster over the nodes), one broker and one actor host, each a real process the
 * test can SIGKILL; influxd and the API run beside the test (influxd reached by the nodes through a
 * proxy on the lab network). The test is the fourth machine: the simulated devices publish from
 * here to the nodes' brokers.
 */
export interface ClusterLab {
  lab: Lab;
  cfg: Config;
  machines: LabMachine[];
  /** every node's NATS URL, comma-separated (what every footfall process is given) */
  natsUrls: string;
  /** every node's broker, for devices */
  mqttUrls: string[];
  services: TestServices;
  /** influxd again on the same port and data (after a fault killed it) */
  restartInfluxd(): Promise<void>;
  apiUrl: string;
  /** fetch from the API with the admin token */
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  admin(method: string, pathname: string, body?: unknown): Promise<Response>;
  proc(kind: ProcKind, node: number): LabProc;
  cluster: NatsCluster;
  /** SIGKILL every process of a node (the whole machine), then bring them back */
  killNode(node: number): Promise<void>;
  startNode(node: number): Promise<void>;
  /** Copies every node's broker, host and nats-server log into dir (as {node}-{file}). */
  copyLogs(dir: string): void;
  stop(): Promise<void>;
}

export async function startClusterLab(opts: {
  nodes?: number; partitions?: number; overrides?: Partial<Config>;
  /** write V8 CPU profiles of the brokers and actor hosts into this folder (when they stop cleanly) */
  profileDir?: string;
} = {}): Promise<ClusterLab> {
  const n = opts.nodes ?? 3;
  const lab = await createLab({ nodes: n });
  const services = await startTestServices({ nats: false, influx: false });
  const influxPorts = { port: await freePort(), rpcPort: await freePort() };
  const influxd = await startInfluxd({ dataDir: services.dataDir, ...influxPorts });
  services.influxd = influxd;
  services.influxPort = influxPorts.port;
  services.influxUrl = influxd.url;
  const proxies: TcpProxy[] = [];
  let cluster: NatsCluster | undefined;
  const machines: LabMachine[] = [];
  let api: Awaited<ReturnType<typeof runApi>> | undefined;
  try {
    const influxOnLab = await startTcpProxy(services.influxPort, "127.0.0.1", { host: lab.hostIp, port: services.influxPort });
    proxies.push(influxOnLab);
    // one JetStream cluster: a nats-server in each namespace, each supervised
    cluster = await startNatsCluster({
      nodes: n, dataDir: services.dataDir,
      ports: lab.nodes.map(() => NATS_PORT), clusterPorts: lab.nodes.map(() => ROUTE_PORT),
      hosts: lab.nodes.map((node) => node.ip), execPrefix: (i) => lab.nodes[i]!.prefix, supervise: true,
      // the supervisors' restarts, in a file of their own
      log: pino({ name: "nats-supervisor", level: "info" }, pino.destination({ dest: path.join(services.dataDir, "nats-supervisor.log"), sync: true })),
    });
    const natsUrls = cluster.url;
    const influxCreds = splitCredentials(influxd.url).credentials;
    const influxOnLabUrl = withCredentials(`http://${lab.hostIp}:${services.influxPort}`, influxCreds);
    const cfg = loadConfig({
      dataDir: services.dataDir,
      natsUrl: natsUrls,
      influxUrl: influxd.url,
      httpPort: await freePort(),
      partitions: opts.partitions ?? 8,
      replicas: 3,
      leaseTtlMs: 3000,
      flushMs: 50,
      checkpointMs: 300,
      snapshotMs: 2000,
      logLevel: "warn",
      adminToken: "chaos-admin-token-0123456789",
      ...opts.overrides,
    });

    const prof = opts.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(opts.profileDir)}`] : [];
    const env = (node: LabNode, extra: Record<string, string>): NodeJS.ProcessEnv => ({
      ...process.env,
      NATS_URL: natsUrls,
      INFLUX_URL: influxOnLabUrl,
      FOOTFALL_REPLICAS: "3",
      FOOTFALL_DATA_DIR: path.join(services.dataDir, node.name),
      FOOTFALL_BIND: node.ip,
      FOOTFALL_ADMIN_TOKEN: cfg.adminToken,
      FOOTFALL_PARTITIONS: String(cfg.partitions), FOOTFALL_LEASE_TTL_MS: String(cfg.leaseTtlMs),
      FOOTFALL_FLUSH_MS: String(cfg.flushMs), FOOTFALL_CHECKPOINT_MS: String(cfg.checkpointMs),
      FOOTFALL_SNAPSHOT_MS: String(cfg.snapshotMs), FOOTFALL_IDLE_MS: String(cfg.idleMs),
      FOOTFALL_INFLUX_DB: cfg.influxDb, FOOTFALL_LOG_LEVEL: process.env.FOOTFALL_CHAOS_LOG ?? "warn",
      FOOTFALL_LATE_HORIZON_H: String(cfg.lateHorizonHours), FOOTFALL_LINKER_WAIT_MS: String(cfg.linkerWaitMs), FOOTFALL_LINKER_QUIET_MS: String(cfg.linkerQuietMs),
      FOOTFALL_CAMERA_REORDER_MS: String(cfg.cameraReorderMs), FOOTFALL_PERSON_SILENCE_S: String(cfg.personSilenceS),
      FOOTFALL_MQTT_PORT: String(MQTT_PORT), FOOTFALL_BROKER_OPS_PORT: String(BROKER_OPS_PORT), FOOTFALL_HOST_OPS_PORT: String(HOST_OPS_PORT),
      ...extra,
    });
    const healthy = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;

    lab.nodes.forEach((node, i) => {
      const dir = path.join(services.dataDir, node.name);
      fs.mkdirSync(dir, { recursive: true });
      const server = cluster!.nodes[i]!;
      const nats: LabNats = { server, kill: () => server.kill() };
      const broker = new LabProc("broker", node, [process.execPath, ...prof, CLI, "broker"], env(node, {}), path.join(dir, "broker.log"),
        healthy(`http://${node.ip}:${BROKER_OPS_PORT}/healthz`));
      const host = new LabProc("host", node, [process.execPath, ...prof, CLI, "host"], env(node, {}), path.join(dir, "host.log"),
        healthy(`http://${node.ip}:${HOST_OPS_PORT}/healthz`));
      machines.push({ node, nats, broker, host });
    });
    const nc = await connectNats(natsUrls, "chaos-lab");
    await provisionNats(nc, cfg);
    await nc.drain();
    await provisionInflux(influxClient(influxd.url, cfg.influxDb), cfg);
    await Promise.all(machines.map((m) => m.broker.start()));
    for (const m of machines) await m.host.start();
    api = await runApi(cfg);
    const apiUrl = `http://127.0.0.1:${api.port}`;

    const lab_: ClusterLab = {
      lab, cfg, machines, natsUrls, services, apiUrl, cluster,
      async restartInfluxd() {
        await services.influxd?.kill();
        services.influxd = await startInfluxd({ dataDir: services.dataDir, ...influxPorts });
      },
      mqttUrls: lab.nodes.map((node) => `mqtt://${node.ip}:${MQTT_PORT}`),
      ...apiClient(apiUrl, cfg.adminToken),
      proc: (kind, i) => machines[i]![kind],
      async killNode(i) {
        // every process in the namespace (its nats-server's supervisor, outside, starts it again)
        await machines[i]!.node.killAll();
        await Promise.all([machines[i]!.broker.kill(), machines[i]!.host.kill()]);
      },
      async startNode(i) {
        const m = machines[i]!;
        await m.broker.start();
        await m.host.start();
      },
      copyLogs(dir) {
        fs.mkdirSync(dir, { recursive: true });
        const copy = (from: string, to: string) => { if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dir, to)); };
        machines.forEach((m, i) => {
          for (const f of ["broker.log", "host.log"]) copy(path.join(services.dataDir, m.node.name, f), `${m.node.name}-${f}`);
          copy(path.join(services.dataDir, "nats-cluster", `n${i + 1}`, "nats-server.log"), `${m.node.name}-nats-server.log`);
        });
        copy(path.join(services.dataDir, "nats-supervisor.log"), "nats-supervisor.log");
      },
      async stop() {
        await api?.stop();
        await Promise.all(machines.map((m) => m.broker.stop()));
        await Promise.all(machines.map((m) => m.host.stop()));
        await cluster?.stop();
        const keep = process.env.FOOTFALL_CHAOS_KEEP_LOGS;
        if (keep) lab_.copyLogs(keep);
        for (const p of proxies) await p.close();
        await lab.destroy();
        await services.stop();
      },
    };
    return lab_;
  } catch (err) {
    await api?.stop().catch(() => {});
    for (const m of machines) await Promise.all([m.broker.kill(), m.host.kill()]);
    await cluster?.stop().catch(() => {});
    for (const p of proxies) await p.close().catch(() => {});
    await lab.destroy().catch(() => {});
    await services.stop().catch(() => {});
    throw err;
  }
}

