import http from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { InfluxDB } from "influx";
import type { Registry } from "prom-client";
import { loadConfig, type Config } from "../../infra/config.ts";
import { createLogger } from "../../infra/log.ts";
import { connectNats } from "../../infra/nats.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { influxClient, provisionInflux, provisionNats } from "../../infra/provision.ts";
import { TopologyStore } from "../../topology/topology-store.ts";
import { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import { ActorPublisher } from "../../broker/actor-publisher.ts";
import { createApiApp, type ApiApp } from "../../api/app.ts";
import type { JobRunner } from "../../api/jobs/job-runner.ts";
import type { TrackApiOptions } from "../../api/tracks/track-api.ts";
import type { AttributeExtractor } from "../../models/extractor.ts";
import { openVideoService, type VideoService } from "../../video/store/video-service.ts";
import { KeyStore } from "../../access/key-store.ts";
import { Readers } from "../../access/reader.ts";
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
  /** the reprocessing job runner of the app */
  jobs: JobRunner;
  /** the chunk store, clips and retention (when asked for) */
  video: VideoService | undefined;
  /** the API keys the app accepts */
  keys: KeyStore;
  /** the express app (its route table) */
  app: ApiApp["app"];
  url: string;
  /** fetch with the admin bearer token and a JSON body */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** fetch `path` (from the root) with the admin bearer token, unless `init` sends its own authorization */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export const ADMIN_TOKEN = "test-admin-token";

export interface ApiHarnessOptions {
  influx?: boolean;
  overrides?: Partial<Config>;
  /** what reprocessing jobs extract attributes with */
  extractor?: AttributeExtractor;
  /** camera-pipeline query options (look-back, job runner timings) */
  track?: TrackApiOptions;
  /** serve the video routes (chunk store under the data folder), on this clock */
  video?: { clock?: () => number };
  /** a second API process: on the services, configuration and data folder of this one (which stops them) */
  sharing?: ApiHarness;
}

export async function startApiHarness(opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const services = opts.sharing?.services ?? await startTestServices({ influx: opts.influx ?? false });
  const cfg = opts.sharing?.cfg ?? loadConfig({
    dataDir: services.dataDir, natsUrl: services.natsUrl, influxUrl: services.influxUrl,
    adminToken: ADMIN_TOKEN, influxDb: "footfall_api", partitions: 4, logLevel: "silent",
    // the suites send many wrong credentials on purpose (the fuzzer thousands): no login throttling
    // unless a test asks for it (auth-throttle-api.test.ts)
    authDelayMs: 0, authBanAfter: 0, ...opts.overrides,
  });
  const log = createLogger("api-test", "silent");
  const nc = await connectNats(services.natsUrl, "api-test");
  await provisionNats(nc, cfg);
  const influx = influxClient(services.influxUrl, cfg.influxDb);
  if (opts.influx) await provisionInflux(influx, cfg);
  const topology = await TopologyStore.open(nc);
  const registry = await DeviceRegistry.open(nc);
  const keys = await KeyStore.open(nc);
  const readers = new Readers(cfg.adminToken, keys);
  const publisher = new ActorPublisher(jetstream(nc), { partitions: cfg.partitions });
  const metrics = createRegistry("api-test");
  const video = opts.video ? await openVideoService(cfg, registry, log, { ...opts.video, nc }) : undefined;
  const api = createApiApp({ cfg, influx, topology, registry, publisher, log, metrics, nc, readers, extractor: opts.extractor, track: opts.track, video });
  const server = http.createServer(api.app);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    services, cfg, nc, influx, topology, registry, metrics, jobs: api.jobs, video, keys, app: api.app, url,
    admin: (method, path, body) => fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    }),
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${cfg.adminToken}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await api.close();
      await video?.stop();
      registry.close();
      keys.close();
      await nc.close();
      if (!opts.sharing) await services.stop();
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
