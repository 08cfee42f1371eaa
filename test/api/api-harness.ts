import http from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { InfluxDB } from "influx";
import type { Registry } from "prom-client";
import { loadConfig, type Config } from "../../infra/config.ts";
import { createLogger } from "../../infra/log.ts";
import { connectNats } from "../../infra/nats.ts";
import { createRegistry } from "../../infra/ops-server.ts";
import { influxClient, provisionInflux, provisionNats } from "../../infra/provision.ts";
import { TopologyStore } from "../../actors/topology/topology-store.ts";
import { DeviceRegistry } from "../../broker/device-registry.ts";
import { CrossingBridge } from "../../broker/crossing-bridge.ts";
import { createApiApp } from "../../dashboards/api/app.ts";
import { startTestServices, type TestServices } from "../support/services.ts";

/**
 * The API app (createApiApp) over real services: its own nats-server (and influxd when asked),
 * listening on a free loopback port. Tests talk to it with plain fetch.
 */
export interface ApiHarness {
  services: TestServices;
  cfg: Config;
  nc: NatsConnection;
  influx: InfluxDB;
  topology: TopologyStore;
  registry: DeviceRegistry;
  metrics: Registry;
  url: string;
  /** fetch with the admin bearer token and a JSON body */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

export const ADMIN_TOKEN = "test-admin-token";

export async function startApiHarness(opts: { influx?: boolean; overrides?: Partial<Config> } = {}): Promise<ApiHarness> {
  const services = await startTestServices({ influx: opts.influx ?? false });
  const cfg = loadConfig({
    dataDir: services.dataDir, natsUrl: services.natsUrl, influxUrl: services.influxUrl,
    adminToken: ADMIN_TOKEN, influxDb: "footfall_api", partitions: 4, logLevel: "silent", ...opts.overrides,
  });
  const log = createLogger("api-test", "silent");
  const nc = await connectNats(services.natsUrl, "api-test");
  await provisionNats(nc, cfg);
  const influx = influxClient(services.influxUrl, cfg.influxDb);
  if (opts.influx) await provisionInflux(influx, cfg);
  const topology = await TopologyStore.open(nc);
  const registry = await DeviceRegistry.open(nc);
  const bridge = new CrossingBridge(jetstream(nc), { partitions: cfg.partitions });
  const metrics = createRegistry("api-test");
  const app = createApiApp({ cfg, influx, topology, registry, bridge, log, metrics });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    services, cfg, nc, influx, topology, registry, metrics, url,
    admin: (method, path, body) => fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    }),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      registry.close();
      await nc.close();
      await services.stop();
    },
  };
}

/** Status and parsed JSON body of a response. */
export async function jsonOf(r: Response): Promise<{ status: number; body: any }> {
  const text = await r.text();
  let body: unknown;
  try { body = JSON.parse(text); } catch { throw new Error(`${r.status} answered non-JSON: ${text.slice(0, 200)}`); }
  return { status: r.status, body };
}
