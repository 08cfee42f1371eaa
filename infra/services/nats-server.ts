import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { findBinary, spawnService, waitUntil, type ServiceProcess } from "./child-process.ts";
import { ensureServiceSecrets, withCredentials, type ServiceCredentials } from "../service-secrets.ts";
import { SupervisedService } from "./supervised-service.ts";

/**
 * Debian's nats-server with JetStream, bound to 127.0.0.1, store under {dataDir}/nats.
 * Restarting on the same dataDir keeps every stream and KV bucket. With `supervise` (as `footfall up`
 * runs it) a nats-server that dies is started again on the same store and port (SupervisedService).
 * Clients must log in: user and password are generated at the first start and kept in
 * {dataDir}/secrets (infra/service-secrets.ts); `url` carries them (nats://user:password@host:port).
 */
export interface NatsServer {
  /** the URL to connect to, with the credentials */
  url: string;
  credentials: ServiceCredentials;
  port: number;
  service: SupervisedService;
  /** the process running now */
  readonly proc: ServiceProcess;
  /** stops it for good */
  stop(): Promise<void>;
  /** SIGKILL (restarted when supervised) */
  kill(): Promise<void>;
}

export interface NatsServerOptions { dataDir: string; port: number; log?: Logger; supervise?: boolean; registry?: Registry }

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServer> {
  const dir = path.join(opts.dataDir, "nats");
  fs.mkdirSync(dir, { recursive: true });
  const credentials = ensureServiceSecrets(opts.dataDir).nats;
  const conf = path.join(dir, "nats-server.conf");
  // the file holds the password: readable by us only
  fs.writeFileSync(conf, [
    `listen: "127.0.0.1:${opts.port}"`,
    `server_name: footfall`,
    `max_payload: 8MB`,
    `authorization {`,
    `  user: ${JSON.stringify(credentials.user)}`,
    `  password: ${JSON.stringify(credentials.password)}`,
    `}`,
    `jetstream {`,
    `  store_dir: "${path.join(dir, "store")}"`,
    `  max_memory_store: 256MB`,
    `  max_file_store: 20GB`,
    `}`,
    ``,
  ].join("\n"), { mode: 0o600 });
  fs.chmodSync(conf, 0o600);
  const logFile = path.join(dir, "nats-server.log");
  const command = findBinary("nats-server");
  const service = await SupervisedService.start({
    name: "nats-server",
    spawn: () => spawnService({ name: "nats-server", command, args: ["-c", conf], logFile, ...(opts.log ? { log: opts.log } : {}) }),
    ready: (proc) => waitUntil(`nats-server on 127.0.0.1:${opts.port}`, () => natsReady(opts.port), 20_000, proc, logFile),
  }, opts);
  opts.log?.info({ port: opts.port, dir, supervised: Boolean(opts.supervise) }, "nats-server ready");
  return {
    url: withCredentials(`nats://127.0.0.1:${opts.port}`, credentials), credentials, port: opts.port, service,
    get proc() { return service.proc; },
    stop: () => service.stop(), kill: () => service.kill(),
  };
}

/** A NATS server greets every new connection with an INFO line. */
function natsReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const t = setTimeout(() => { s.destroy(); resolve(false); }, 1000);
    s.once("data", (d) => { clearTimeout(t); s.destroy(); resolve(d.toString().startsWith("INFO")); });
    s.once("error", () => { clearTimeout(t); resolve(false); });
  });
}
