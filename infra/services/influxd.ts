import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../log.ts";
import { findBinary, spawnService, waitUntil, type ServiceProcess } from "./child-process.ts";

/**
 * Debian's influxd (InfluxDB 1.6) with a generated config: HTTP on 127.0.0.1:{port},
 * the backup RPC on 127.0.0.1:{rpcPort} (default port+2), meta/data/wal under {dataDir}/influxdb.
 */
export interface Influxd { url: string; port: number; rpcPort: number; proc: ServiceProcess; stop(): Promise<void>; kill(): Promise<void> }

export async function startInfluxd(opts: { dataDir: string; port: number; rpcPort?: number; log?: Logger }): Promise<Influxd> {
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
  const proc = spawnService({ name: "influxd", command: findBinary("influxd"), args: ["run", "-config", conf], logFile, ...(opts.log ? { log: opts.log } : {}) });
  const url = `http://127.0.0.1:${opts.port}`;
  await waitUntil(`influxd on ${url}`, async () => (await fetch(`${url}/ping`)).status === 204, 30_000, proc, logFile);
  opts.log?.info({ port: opts.port, dir }, "influxd ready");
  return { url, port: opts.port, rpcPort: opts.rpcPort ?? opts.port + 2, proc, stop: () => proc.stop(), kill: () => proc.kill() };
}
