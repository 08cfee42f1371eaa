import express from "express";
import type { InfluxDB } from "influx";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import type { TopologyStore } from "../topology/topology-store.ts";
import type { DeviceRegistry } from "../topology/devices/device-registry.ts";
import type { ActorPublisher } from "../broker/actor-publisher.ts";
import type { AttributeExtractor } from "../models/extractor.ts";
import type { Readers } from "../access/reader.ts";
import { apiAccess } from "./http/access.ts";
import { requireAdmin } from "./http/admin-auth.ts";
import { installLoginGate, LoginGate } from "./http/login-gate.ts";
import { throttleConfigOf } from "../access/auth-throttle.ts";
import { LoginThrottle } from "../access/login-throttle.ts";
import { errorHandler, sendError } from "./http/api-error.ts";
import { ApiMetrics } from "./http/http-metrics.ts";
import { ingestRoutes } from "./ingest-routes.ts";
import { keysRoutes } from "./keys-routes.ts";
import { OccupancyReader } from "./occupancy/occupancy-reader.ts";
import { occupancyRoutes } from "./occupancy/occupancy-routes.ts";
import { usualFlowRoutes } from "./occupancy/usual-flow-routes.ts";
import { stillRoutes } from "./still-routes.ts";
import { openapiRoute, opsRoutes } from "./http/ops-routes.ts";
import { topologyRoutes } from "./topology-routes.ts";
import { trackApi, type TrackApiOptions } from "./tracks/track-api.ts";
import type { JobRunner } from "./jobs/job-runner.ts";
import { videoRoutes } from "./video-routes.ts";
import type { VideoService } from "../video/store/video-service.ts";
import { wallRoutes } from "../dashboards/wall/wall-routes.ts";

export interface ApiDeps {
  cfg: Config;
  influx: InfluxDB;
  topology: TopologyStore;
  registry: DeviceRegistry;
  /** stores HTTP-ingested crossings in JetStream */
  publisher: ActorPublisher;
  log: Logger;
  metrics: Registry;
  /** who may read what: the admin token and the API keys (KeyStore over KV ff_keys) */
  readers: Readers;
  /** NATS: query history, reprocessing jobs and their JetStream publishes */
  nc: NatsConnection;
  /** re-extracts attributes for reprocessing jobs; without one such jobs fail with a reason */
  extractor?: AttributeExtractor | undefined;
  track?: TrackApiOptions | undefined;
  /** the chunk store, clips and retention; without it the video routes answer 404 */
  video?: VideoService | undefined;
  /** true once the process is stopping (uploads answer 503) */
  closing?: () => boolean;
  /** failed logins of this process (shared with the live feed on the same port); default: the app's own */
  throttle?: LoginThrottle;
}

/** The express app and what runs beside it (the reprocessing job runner). */
export interface ApiApp {
  app: express.Express;
  jobs: JobRunner;
  /** stops background work (running jobs stay resumable by the next process) */
  close(): Promise<void>;
}

export const API_PREFIX = "/api/v1";

/**
 * The HTTP API (express 5): occupancy queries, topology administration, API keys, HTTP ingest, and
 * the camera pipeline's paths, statistics, heatmap, zones, cameras, query history and reprocessing
 * jobs, and video (chunk upload, signed chunk URLs, clips, retention) under /api/v1; /healthz and
 * /metrics at the root. Every error is JSON {error, reason}.
 *
 * Access (http/access.ts) is decided before any route runs: every /api/v1 route but the API
 * description, signed chunk URLs and the device routes needs the admin token or an API key that
 * may read the site it names; admin routes need the admin token or an admin key. An unknown
 * method on a known path answers 405 with Allow.
 */
export function createApiApp(deps: ApiDeps): ApiApp {
  const { cfg, log } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");

  const metrics = new ApiMetrics(deps.metrics);
  /** JSON bodies of admin and ingest routes: any content type, at most FOOTFALL_MAX_PAYLOAD bytes. */
  const json = express.json({ limit: cfg.maxPayloadBytes, type: () => true, strict: true });

  // failed logins (Bearer tokens, devices' HTTP Basic) throttled per address and per key / device id
  const throttle = deps.throttle ?? new LoginThrottle(throttleConfigOf(cfg), "http", deps.metrics, log);
  installLoginGate(app, new LoginGate(throttle, log.child({ component: "login" })));
  app.use(metrics.middleware());
  app.use((req, res, next) => {
    const started = performance.now();
    res.once("finish", () => log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(performance.now() - started) }, "http request"));
    next();
  });
  app.use(apiAccess({ readers: deps.readers, registry: deps.registry, log: log.child({ component: "access" }), metrics: deps.metrics }));
  const admin = requireAdmin(deps.readers);
  app.use(opsRoutes({ topology: deps.topology, influx: deps.influx, metrics: deps.metrics }));
  app.use(API_PREFIX, openapiRoute());
  app.use(API_PREFIX, occupancyRoutes({ reader: new OccupancyReader(deps.influx, cfg.influxDb), topology: deps.topology }));
  app.use(API_PREFIX, usualFlowRoutes({ influx: deps.influx, database: cfg.influxDb, topology: deps.topology }));
  app.use(API_PREFIX, stillRoutes({ nc: deps.nc, registry: deps.registry, retention: deps.video?.retention, clock: deps.video?.clock, log }));
  app.use(API_PREFIX, topologyRoutes({ topology: deps.topology, admin, json }));
  app.use(API_PREFIX, keysRoutes({ keys: deps.readers.store, admin, json, log: log.child({ component: "keys" }) }));
  app.use(API_PREFIX, ingestRoutes({ registry: deps.registry, publisher: deps.publisher, metrics, json, log, rawRetention: cfg.rawRetention }));
  const track = trackApi({
    cfg, influx: deps.influx, nc: deps.nc, topology: deps.topology, log, metrics: deps.metrics,
    extractor: deps.extractor, options: deps.track,
  });
  app.use(API_PREFIX, track.router);
  if (deps.video) {
    const v = deps.video;
    app.use(API_PREFIX, videoRoutes({
      store: v.store, retention: v.retention, registry: deps.registry, admin, json,
      urlSecret: v.urlSecret, maxChunkBytes: v.maxChunkBytes, clock: v.clock, log: log.child({ component: "video" }),
      closing: deps.closing,
    }));
  }
  app.use(wallRoutes({ readers: deps.readers, topology: deps.topology, nc: deps.nc, log, throttle }));
  app.use((req, res) => sendError(res, 404, "not_found", `no route ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return { app, jobs: track.runner, close: () => track.close() };
}
