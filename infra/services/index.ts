import fs from "node:fs";
import type { Config } from "../config.ts";
import { influxUrlOf, natsUrlOf } from "../config.ts";
import type { Logger } from "../log.ts";
import { startInfluxd, type Influxd } from "./influxd.ts";
import { startNatsServer, type NatsServer } from "./nats-server.ts";

/**
 * Starts nats-server and influxd as our children, unless NATS_URL / INFLUX_URL point elsewhere
 * (then that one is used and nothing is started). stop() stops what we started.
 */
export interface RunningServices { natsUrl: string; influxUrl: string; nats?: NatsServer; influxd?: Influxd; stop(): Promise<void> }

export async function startServices(cfg: Config, log?: Logger): Promise<RunningServices> {
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  const [nats, influxd] = await Promise.all([
    cfg.natsUrl ? undefined : startNatsServer({ dataDir: cfg.dataDir, port: cfg.natsPort, ...(log ? { log } : {}) }),
    cfg.influxUrl ? undefined : startInfluxd({ dataDir: cfg.dataDir, port: cfg.influxPort, ...(log ? { log } : {}) }),
  ]);
  return {
    natsUrl: natsUrlOf(cfg),
    influxUrl: influxUrlOf(cfg),
    ...(nats ? { nats } : {}),
    ...(influxd ? { influxd } : {}),
    stop: async () => { await Promise.all([nats?.stop(), influxd?.stop()]); },
  };
}
