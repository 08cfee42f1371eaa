import fs from "node:fs";
import { Router } from "express";
import type { InfluxDB } from "influx";
import type { Registry } from "prom-client";
import type { TopologyStore } from "../../topology/topology-store.ts";

const OPENAPI = new URL("../openapi.yaml", import.meta.url);
const PROBE_TIMEOUT_MS = 1000;

/** /healthz (200 when NATS answers and InfluxDB pings, else 503) and /metrics, at the root. */
export function opsRoutes(deps: { topology: TopologyStore; influx: InfluxDB; metrics: Registry }): Router {
  const router = Router();

  router.get("/healthz", async (_req, res) => {
    const [nats, influx] = await Promise.all([
      deps.topology.reachable(PROBE_TIMEOUT_MS).catch(() => false),
      deps.influx.ping(PROBE_TIMEOUT_MS).then((hosts) => hosts.length > 0 && hosts.every((h) => h.online), () => false),
    ]);
    const ok = nats && influx;
    res.status(ok ? 200 : 503).json({ ok, nats, influx });
  });

  router.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  return router;
}

/** GET /openapi.yaml: the API description (api/openapi.yaml), read once. */
export function openapiRoute(): Router {
  const router = Router();
  const text = fs.readFileSync(OPENAPI, "utf8");
  router.get("/openapi.yaml", (_req, res) => { res.type("application/yaml").send(text); });
  return router;
}
