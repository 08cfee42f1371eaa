import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import type { Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { connectNats } from "../nats.ts";
import { findBinary, spawnService, waitUntil, type ServiceProcess } from "./child-process.ts";
import { ensureServiceSecrets, withCredentials, type ServiceCredentials } from "../service-secrets.ts";
import { SupervisedService } from "./supervised-service.ts";

/**
 * Debian's nats-server with JetStream, bound to 127.0.0.1 (or `host`), store under {dataDir}/nats
 * (or {dataDir}/{dir}). Restarting on the same store keeps every stream and KV bucket. With
 * `supervise` (as `footfall up` runs it) a nats-server that dies is started again on the same
 * store and port (SupervisedService).
 * Clients must log in: user and password are generated at the first start and kept in
 * {dataDir}/secrets (infra/service-secrets.ts); `url` carries them (nats://user:password@host:port).
 * With `cluster` it is one member of a JetStream cluster (startNatsCluster): its own server name,
 * route listener and routes to the others, which log in with the same credentials.
 */
export interface NatsServer {
  /** the URL to connect to, with the credentials */
  url: string;
  credentials: ServiceCredentials;
  host: string;
  port: number;
  /** the server_name (JetStream's name of this node in a cluster) */
  serverName: string;
  /** where the server logs */
  logFile: string;
  service: SupervisedService;
  /** the process running now */
  readonly proc: ServiceProcess;
  /** stops it for good */
  stop(): Promise<void>;
  /** SIGKILL (restarted when supervised) */
  kill(): Promise<void>;
}

export interface NatsClusterMembership {
  /** the cluster's name, the same on every node */
  name: string;
  /** address and port of this node's route listener */
  host?: string;
  port: number;
  /** host:port of the other nodes' route listeners */
  routes: string[];
}

export interface NatsServerOptions {
  dataDir: string;
  port: number;
  /** address the client listener binds (default 127.0.0.1); in a network namespace, that node's address */
  host?: string;
  /** folder under dataDir for config, log and store (default "nats") */
  dir?: string;
  /** default "footfall" */
  serverName?: string;
  cluster?: NatsClusterMembership;
  /** a command the server runs under, e.g. ["ip", "netns", "exec", "node1"] to run it inside a network namespace */
  execPrefix?: string[];
  log?: Logger;
  supervise?: boolean;
  registry?: Registry;
}

const hostPort = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
/** a wildcard listener is reached on loopback */
const reachable = (host: string) => (host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host);

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServer> {
  const host = opts.host ?? "127.0.0.1";
  const serverName = opts.serverName ?? "footfall";
  const dir = path.join(opts.dataDir, opts.dir ?? "nats");
  fs.mkdirSync(dir, { recursive: true });
  const credentials = ensureServiceSecrets(opts.dataDir).nats;
  const secret = [`  user: ${JSON.stringify(credentials.user)}`, `  password: ${JSON.stringify(credentials.password)}`];
  const c = opts.cluster;
  const conf = path.join(dir, "nats-server.conf");
  // the file holds the password: readable by us only
  fs.writeFileSync(conf, [
    `listen: ${JSON.stringify(hostPort(host, opts.port))}`,
    `server_name: ${JSON.stringify(serverName)}`,
    `max_payload: 8MB`,
    `authorization {`,
    ...secret,
    `}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(path.join(dir, "store"))}`,
    `  max_memory_store: 256MB`,
    `  max_file_store: 20GB`,
    `}`,
    ...(c ? [
      `cluster {`,
      `  name: ${JSON.stringify(c.name)}`,
      `  listen: ${JSON.stringify(hostPort(c.host ?? host, c.port))}`,
      `  authorization {`,
      ...secret.map((l) => `  ${l}`),
      `  }`,
      `  routes: [`,
      ...c.routes.map((r) => `    ${JSON.stringify(withCredentials(`nats-route://${r}`, credentials))}`),
      `  ]`,
      `}`,
    ] : []),
    ``,
  ].join("\n"), { mode: 0o600 });
  fs.chmodSync(conf, 0o600);
  const logFile = path.join(dir, "nats-server.log");
  const command = findBinary("nats-server");
  const at = reachable(host);
  const service = await SupervisedService.start({
    name: opts.cluster ? `nats-server ${serverName}` : "nats-server",
    spawn: () => {
      const [cmd, ...pre] = [...(opts.execPrefix ?? []), command];
      return spawnService({ name: "nats-server", command: cmd!, args: [...pre, "-c", conf], logFile, ...(opts.log ? { log: opts.log } : {}) });
    },
    ready: (proc) => waitUntil(`nats-server on ${hostPort(at, opts.port)}`, () => natsReady(at, opts.port), 20_000, proc, logFile),
  }, opts);
  opts.log?.info({ port: opts.port, dir, serverName, supervised: Boolean(opts.supervise) }, "nats-server ready");
  return {
    url: withCredentials(`nats://${hostPort(at, opts.port)}`, credentials), credentials, host, port: opts.port, serverName, logFile, service,
    get proc() { return service.proc; },
    stop: () => service.stop(), kill: () => service.kill(),
  };
}

/** A NATS server greets every new connection with an INFO line. */
function natsReady(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const t = setTimeout(() => { s.destroy(); resolve(false); }, 1000);
    s.once("data", (d) => { clearTimeout(t); s.destroy(); resolve(d.toString().startsWith("INFO")); });
    s.once("error", () => { clearTimeout(t); resolve(false); });
  });
}

/** A JetStream cluster of nats-servers: `url` lists every node (the seed list), with the credentials. */
export interface NatsCluster {
  url: string;
  nodes: NatsServer[];
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  nodes: number;
  dataDir: string;
  /** client port of each node */
  ports: number[];
  /** route port of each node */
  clusterPorts: number[];
  /** address of each node (default 127.0.0.1 for all); a node in its own network namespace has its own */
  hosts?: string[];
  /** default "footfall" */
  name?: string;
  /** each node's command prefix (NatsServerOptions.execPrefix), e.g. its network namespace */
  execPrefix?: (node: number) => string[];
  log?: Logger;
  supervise?: boolean;
  registry?: Registry;
}

/**
 * Starts a JetStream cluster of `nodes` nats-servers (server names footfall-1..n, stores under
 * {dataDir}/nats-cluster/n{i}, each routed to all the others) and waits until JetStream answers
 * (a meta leader is elected) and a stream can be placed on every node, so streams can be created
 * with replicas right away.
 */
export async function startNatsCluster(opts: NatsClusterOptions): Promise<NatsCluster> {
  if (opts.ports.length < opts.nodes || opts.clusterPorts.length < opts.nodes) throw new Error(`a cluster of ${opts.nodes} needs ${opts.nodes} client and route ports`);
  const name = opts.name ?? "footfall";
  const hostOf = (i: number) => opts.hosts?.[i] ?? "127.0.0.1";
  const idx = [...Array(opts.nodes).keys()];
  const started = await Promise.allSettled(idx.map((i) => startNatsServer({
    dataDir: opts.dataDir, port: opts.ports[i]!, host: hostOf(i), dir: path.join("nats-cluster", `n${i + 1}`), serverName: `${name}-${i + 1}`,
    cluster: { name, port: opts.clusterPorts[i]!, routes: idx.filter((j) => j !== i).map((j) => hostPort(reachable(hostOf(j)), opts.clusterPorts[j]!)) },
    ...(opts.execPrefix ? { execPrefix: opts.execPrefix(i) } : {}),
    ...(opts.log ? { log: opts.log } : {}), ...(opts.supervise ? { supervise: true } : {}), ...(opts.registry ? { registry: opts.registry } : {}),
  })));
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const stop = async () => { await Promise.all(nodes.map((n) => n.stop())); };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const url = nodes.map((n) => n.url).join(",");
  try {
    await waitForJetStream(url, 60_000, opts.nodes);
  } catch (e) {
    // what each node said last (a route listener that could not bind its port, routes refused)
    const tails = nodes.map((n) => {
      let lines: string[] = [];
      try { lines = fs.readFileSync(n.logFile, "utf8").split("\n").filter((l) => /\[(ERR|WRN)\]/.test(l)).slice(-5); } catch { /* no log */ }
      return `${n.serverName}:${lines.length ? `\n  ${lines.join("\n  ")}` : " no errors or warnings logged"}`;
    });
    await stop();
    throw new Error(`${(e as Error).message}\n${tails.join("\n")}`, { cause: e });
  }
  opts.log?.info({ nodes: nodes.map((n) => n.serverName) }, "nats cluster ready");
  return { url, nodes, stop };
}

/**
 * Waits until JetStream answers account requests (in a cluster: once a meta leader is elected)
 * and, with `replicas` > 1, until a stream of that many replicas can be placed: nats-server 2.10
 * elects its meta leader before it knows every peer, and refuses a placement on peers it does not
 * know yet ("no suitable peers for placement"). The probe stream is held in memory and deleted.
 */
export async function waitForJetStream(url: string, timeoutMs: number, replicas = 1): Promise<void> {
  const nc = await connectNats(url, "footfall-cluster-wait");
  try {
    await waitUntil("JetStream (cluster meta leader)", async () => {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
      return true;
    }, timeoutMs);
    if (replicas > 1) {
      const probe = "FOOTFALL_PLACEMENT_PROBE";
      await waitUntil(`JetStream (a stream placed on ${replicas} nodes)`, async () => {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        await jsm.streams.add({ name: probe, subjects: ["footfall.placement-probe"], num_replicas: replicas, storage: StorageType.Memory });
        await jsm.streams.delete(probe);
        return true;
      }, timeoutMs);
    }
  } finally {
    await nc.close();
  }
}
