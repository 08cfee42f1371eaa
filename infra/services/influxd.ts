import fs from "node:fs";
import path from "node:path";
import type { Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { findBinary, spawnService, waitUntil, type ServiceProcess } from "./child-process.ts";
import { SupervisedService } from "./supervised-service.ts";

/**
 * Debian's influxd (InfluxDB 1.6) with a generated config: HTTP on 127.0.0.1:{port},
 * the backup RPC on 127.0.0.1:{rpcPort} (default port+2), meta/data/wal under {dataDir}/influxdb.
 * With `supervise` (as `footfall up` runs it) an influxd that dies is started again on the same
 * data and port (SupervisedService).
 */
export interface Influxd {
  url: string;
  port: number;
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
  const url = `http://127.0.0.1:${opts.port}`;
  const service = await SupervisedService.start({
    name: "influxd",
    spawn: () => spawnService({ name: "influxd", command, args: ["run", "-config", conf], logFile, ...(opts.log ? { log: opts.log } : {}) }),
    ready: (proc) => waitUntil(`influxd on ${url}`, async () => (await fetch(`${url}/ping`)).status === 204, 30_000, proc, logFile),
  }, opts);
  opts.log?.info({ port: opts.port, dir, supervised: Boolean(opts.supervise) }, "influxd ready");
  return {
    url, port: opts.port, service,
    get proc() { return service.proc; },
    stop: () => service.stop(), kill: () => service.kill(),
  };
}
