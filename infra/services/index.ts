import fs from "node:fs";
import type { Registry } from "prom-client";
import type { Config } from "../config.ts";
import { influxUrlOf, natsUrlOf } from "../config.ts";
import type { Logger } from "../log.ts";
import { startInfluxd, type Influxd } from "./influxd.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";

/**
 * Starts nats-server and influxd as our supervised children (restarted with back-off when they
 * die, SupervisedService), unless NATS_URL / INFLUX_URL point elsewhere (then that one is used and
 * nothing is started). Ours require the credentials generated at their first start (kept in
 * {dataDir}/secrets); the URLs returned carry them. stop() stops what we started, for good.
 */
export interface RunningServices { natsUrl: string; influxUrl: string; nats?: NatsServer; influxd?: Influxd; stop(): Promise<void> }

export async function startServices(cfg: Config, log?: Logger, opts: { registry?: Registry } = {}): Promise<RunningServices> {
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  const common = { dataDir: cfg.dataDir, supervise: true, ...(log ? { log } : {}), ...(opts.registry ? { registry: opts.registry } : {}) };
  const [nats, influxd] = await Promise.all([
    cfg.natsUrl ? undefined : startNatsServer({ ...common, port: cfg.natsPort }),
    cfg.influxUrl ? undefined : startInfluxd({ ...common, port: cfg.influxPort }),
  ]);
  return {
    // ours with the credentials they were started with, or the operator's as given
    natsUrl: nats?.url ?? natsUrlOf(cfg),
    influxUrl: influxd?.url ?? influxUrlOf(cfg),
    ...(nats ? { nats } : {}),
    ...(influxd ? { influxd } : {}),
    stop: async () => { await Promise.all([nats?.stop(), influxd?.stop()]); },
  };
}
