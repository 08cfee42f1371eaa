import type { Request, RequestHandler } from "express";
import type { Counter, Histogram, Registry } from "prom-client";
import { counter, histogram } from "../../infra/metrics.ts";

/**
 * The API's Prometheus metrics: requests by method/route/status, latency by method/route,
 * and HTTP ingest outcomes. Route labels are the matched route patterns (bounded cardinality).
 */
export class ApiMetrics {
  readonly requests: Counter<"method" | "route" | "status">;
  readonly latency: Histogram<"method" | "route">;
  /** crossing events received over HTTP by result: stored | duplicate | refused */
  readonly ingestEvents: Counter<"result">;
  /** HTTP ingest requests by outcome: stored | duplicate | refused | unauthorized | unavailable */
  readonly ingestRequests: Counter<"outcome">;

  constructor(registry: Registry) {
    this.requests = counter(registry, "footfall_api_http_requests_total", "HTTP requests answered, by method, route and status", ["method", "route", "status"]);
    this.latency = histogram(registry, "footfall_api_http_request_duration_seconds", "HTTP request latency, by method and route",
      ["method", "route"], [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
    this.ingestEvents = counter(registry, "footfall_api_ingest_events_total", "crossing events received over HTTP, by result", ["result"]);
    this.ingestRequests = counter(registry, "footfall_api_ingest_requests_total", "HTTP ingest requests, by outcome", ["outcome"]);
  }

  /** Counts and times every request once its response is finished. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const stop = this.latency.startTimer();
      res.once("finish", () => {
        const route = routeOf(req);
        stop({ method: req.method, route });
        this.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      });
      next();
    };
  }
}

function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === "string" ? `${req.baseUrl}${path}` : "unmatched";
}

