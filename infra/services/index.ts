import fs from "node:fs";
import type { Registry } from "prom-client";
import type { Config } from "../config.ts";
import { influxUrlOf, natsUrlOf } from "../config.ts";
import type { Logger } from "../log.ts";
import { startInfluxd, type Influxd } from "./influxd.ts";
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from "./nats-server.ts";

/**
 * Starts nats-server and influxd as our supervised children (restarted with back-off when they
 * die, SupervisedService), unless NATS_URL / INFLUX_URL point elsewhere (then that one is used and
 * nothing is started). Ours require the credentials generated at their first start (kept in
 * {dataDir}/secrets); the URLs returned carry them. stop() stops what we started, for good.
 * With `natsNodes` > 1, a JetStream cluster on loopback instead of one nats-server: client ports
 * FOOTFALL_NATS_PORT + 0..n-1, route ports FOOTFALL_NATS_PORT + 2000 + 0..n-1; natsUrl lists them all.
 */
export interface RunningServices {
  natsUrl: string;
  influxUrl: string;
  nats?: NatsServer;
  natsCluster?: NatsCluster;
  influxd?: Influxd;
  /** replicas for streams and buckets: FOOTFALL_REPLICAS, else 3 on a cluster of 3 or more we started, else unset */
  replicas?: number;
  stop(): Promise<void>;
}

/** route ports of the cluster's nodes are this far above their client ports (4222 → 6222) */
export const ROUTE_PORT_OFFSET = 2000;

export async function startServices(cfg: Config, log?: Logger, opts: { registry?: Registry; natsNodes?: number } = {}): Promise<RunningServices> {
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  const common = { dataDir: cfg.dataDir, supervise: true, ...(log ? { log } : {}), ...(opts.registry ? { registry: opts.registry } : {}) };
  const nodes = opts.natsNodes ?? 1;
  const ports = [...Array(nodes).keys()].map((i) => cfg.natsPort + i);
  const [nats, influxd] = await Promise.all([
    cfg.natsUrl ? undefined
      : nodes > 1 ? startNatsCluster({ ...common, nodes, ports, clusterPorts: ports.map((p) => p + ROUTE_PORT_OFFSET) })
      : startNatsServer({ ...common, port: cfg.natsPort }),
    cfg.influxUrl ? undefined : startInfluxd({ ...common, port: cfg.influxPort }),
  ]);
  const cluster = nats && "nodes" in nats ? nats : undefined;
  const single = nats && !("nodes" in nats) ? nats : undefined;
  const replicas = cfg.replicas ?? (cluster && cluster.nodes.length >= 3 ? 3 : undefined);
  return {
    // ours with the credentials they were started with, or the operator's as given
    natsUrl: nats?.url ?? natsUrlOf(cfg),
    influxUrl: influxd?.url ?? influxUrlOf(cfg),
    ...(single ? { nats: single } : {}),
    ...(cluster ? { natsCluster: cluster } : {}),
    ...(influxd ? { influxd } : {}),
    ...(replicas ? { replicas } : {}),
    stop: async () => { await Promise.all([nats?.stop(), influxd?.stop()]); },
  };
}
