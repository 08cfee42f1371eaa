import fs from "node:fs";
import path from "node:path";
import type { Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { findBinary, spawnService, waitUntil, type ServiceProcess } from "./child-process.ts";
import { ensureServiceSecrets, withCredentials, type ServiceCredentials } from "../service-secrets.ts";
import { SupervisedService } from "./supervised-service.ts";

/**
 * Debian's influxd (InfluxDB 1.6) with a generated config: HTTP on 127.0.0.1:{port},
 * the backup RPC on 127.0.0.1:{rpcPort} (default port+2), meta/data/wal under {dataDir}/influxdb.
 * With `supervise` (as `footfall up` runs it) an influxd that dies is started again on the same
 * data and port (SupervisedService).
 * Authentication is on: an admin user with a password generated at the first start (kept in
 * {dataDir}/secrets, infra/service-secrets.ts) is created then (InfluxDB lets the first admin be
 * created without credentials); `url` carries them (http://user:password@host:port). Only /ping
 * answers without them.
 */
export interface Influxd {
  /** the URL to connect to, with the credentials */
  url: string;
  credentials: ServiceCredentials;
  port: number;
  /** the backup RPC port (port + 2 unless given) */
  rpcPort: number;
  service: SupervisedService;
  /** the process running now */
  readonly proc: ServiceProcess;
  /** stops it for good */
  stop(): Promise<void>;
  /** SIGKILL (restarted when supervised) */
  kill(): Promise<void>;
}

export interface InfluxdOptions { dataDir: string; port: number; rpcPort?: number; log?: Logger; supervise?: boolean; registry?: Registry }

export async function startInfluxd(opts: InfluxdOptions): Promise<Influxd> {
  const dir = path.join(opts.dataDir, "influxdb");
  for (const d of ["meta", "data", "wal"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const conf = path.join(dir, "influxdb.conf");
  fs.writeFileSync(conf, [
    `reporting-disabled = true`,
    `bind-address = "127.0.0.1:${opts.rpcPort ?? opts.port + 2}"`,
    `[meta]`,
    `  dir = "${path.join(dir, "meta")}"`,
    `[data]`,
    `  dir = "${path.join(dir, "data")}"`,
    `  wal-dir = "${path.join(dir, "wal")}"`,
    `  query-log-enabled = false`,
    `  index-version = "inmem"`,
    `[http]`,
    `  enabled = true`,
    `  bind-address = "127.0.0.1:${opts.port}"`,
    `  log-enabled = false`,
    `  auth-enabled = true`,
    `  max-body-size = 50000000`,
    `[continuous_queries]`,
    `  enabled = true`,
    `  log-enabled = false`,
    `  run-interval = "1m"`,
    `[monitor]`,
    `  store-enabled = false`,
    `[logging]`,
    `  level = "warn"`,
    ``,
  ].join("\n"));
  const logFile = path.join(dir, "influxd.log");
  const command = findBinary("influxd");
  const credentials = ensureServiceSecrets(opts.dataDir).influx;
  const url = `http://127.0.0.1:${opts.port}`;
  const service = await SupervisedService.start({
    name: "influxd",
    spawn: () => spawnService({ name: "influxd", command, args: ["run", "-config", conf], logFile, ...(opts.log ? { log: opts.log } : {}) }),
    ready: (proc) => waitUntil(`influxd on ${url}`, async () => (await fetch(`${url}/ping`)).status === 204, 30_000, proc, logFile),
  }, opts);
  try {
    await ensureAdmin(url, credentials);
  } catch (e) {
    await service.stop();
    throw e;
  }
  opts.log?.info({ port: opts.port, dir, supervised: Boolean(opts.supervise) }, "influxd ready");
  return {
    url: withCredentials(url, credentials), credentials, port: opts.port, rpcPort: opts.rpcPort ?? opts.port + 2, service,
    get proc() { return service.proc; },
    stop: () => service.stop(), kill: () => service.kill(),
  };
}

/**
 * The admin user exists and takes our password: on a data folder without users it is created
 * (InfluxDB allows that one statement without credentials); else our credentials must work.
 */
async function ensureAdmin(url: string, c: ServiceCredentials): Promise<void> {
  const auth = { authorization: `Basic ${Buffer.from(`${c.user}:${c.password}`).toString("base64")}` };
  const ask = async (q: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${url}/query`, { method: "POST", headers, body: new URLSearchParams({ q }) });
    const body = (await r.json().catch(() => ({}))) as { error?: string; results?: Array<{ error?: string }> };
    return r.ok && !body.error && !body.results?.some((x) => x.error);
  };
  if (await ask("SHOW USERS", auth)) return;
  const quoted = c.password.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  if (await ask(`CREATE USER "${c.user}" WITH PASSWORD '${quoted}' WITH ALL PRIVILEGES`)) return;
  throw new Error(`influxd on ${url} refuses the credentials in its data folder's secrets/services.json (another admin user exists)`);
}
