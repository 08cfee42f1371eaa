import express from "express";
import type { InfluxDB } from "influx";
import type { Registry } from "prom-client";
import type { Config } from "../../infra/config.ts";
import type { Logger } from "../../infra/log.ts";
import type { TopologyStore } from "../../actors/topology/topology-store.ts";
import type { DeviceRegistry } from "../../broker/device-registry.ts";
import type { CrossingBridge } from "../../broker/crossing-bridge.ts";
import { requireAdmin } from "./admin-auth.ts";
import { errorHandler, sendError } from "./api-error.ts";
import { ApiMetrics } from "./http-metrics.ts";
import { ingestRoutes } from "./ingest-routes.ts";
import { OccupancyReader } from "./occupancy-reader.ts";
import { occupancyRoutes } from "./occupancy-routes.ts";
import { openapiRoute, opsRoutes } from "./ops-routes.ts";
import { topologyRoutes } from "./topology-routes.ts";

export interface ApiDeps {
  cfg: Config;
  influx: InfluxDB;
  topology: TopologyStore;
  registry: DeviceRegistry;
  bridge: CrossingBridge;
  log: Logger;
  metrics: Registry;
}

export const API_PREFIX = "/api/v1";

/**
 * The HTTP API (express 5): occupancy queries, topology administration, HTTP ingest under
 * /api/v1; /healthz and /metrics at the root. Every error is JSON {error, reason}.
 */
export function createApiApp(deps: ApiDeps): express.Express {
  const { cfg, log } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");

  const metrics = new ApiMetrics(deps.metrics);
  /** JSON bodies of admin and ingest routes: any content type, at most FOOTFALL_MAX_PAYLOAD bytes. */
  const json = express.json({ limit: cfg.maxPayloadBytes, type: () => true, strict: true });

  app.use(metrics.middleware());
  app.use((req, res, next) => {
    const started = performance.now();
    res.once("finish", () => log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(performance.now() - started) }, "http request"));
    next();
  });
  app.use(opsRoutes({ topology: deps.topology, influx: deps.influx, metrics: deps.metrics }));
  app.use(API_PREFIX, openapiRoute());
  app.use(API_PREFIX, occupancyRoutes({ reader: new OccupancyReader(deps.influx, cfg.influxDb), topology: deps.topology }));
  app.use(API_PREFIX, topologyRoutes({ topology: deps.topology, admin: requireAdmin(cfg.adminToken), json }));
  app.use(API_PREFIX, ingestRoutes({ registry: deps.registry, bridge: deps.bridge, metrics, json, log }));
  app.use((req, res) => sendError(res, 404, "not_found", `no route ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}
