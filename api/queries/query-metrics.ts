import { Counter, Histogram, type Registry } from "prom-client";

/**
 * Prometheus metrics of the camera-pipeline queries and reprocessing jobs:
 *   footfall_api_queries_total{kind,status}        path/stats/heatmap queries answered (kind: paths, distance, dwell, heatmap)
 *   footfall_api_query_duration_seconds{kind}       their duration
 *   footfall_api_jobs_total{state}                  reprocessing jobs created (queued) and finished (done, failed)
 *   footfall_api_extractions_total{result}          extractor calls by result (ok, empty, error)
 */
export class QueryMetrics {
  readonly queries: Counter<"kind" | "status">;
  readonly duration: Histogram<"kind">;
  readonly jobs: Counter<"state">;
  readonly extractions: Counter<"result">;

  constructor(registry: Registry) {
    this.queries = reuse(registry, "footfall_api_queries_total", () => new Counter({
      name: "footfall_api_queries_total", help: "path, statistics and heatmap queries answered, by kind and HTTP status",
      labelNames: ["kind", "status"] as const, registers: [registry],
    }));
    this.duration = reuse(registry, "footfall_api_query_duration_seconds", () => new Histogram({
      name: "footfall_api_query_duration_seconds", help: "duration of path, statistics and heatmap queries, by kind",
      labelNames: ["kind"] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }));
    this.jobs = reuse(registry, "footfall_api_jobs_total", () => new Counter({
      name: "footfall_api_jobs_total", help: "reprocessing jobs created (queued) and finished (done, failed)",
      labelNames: ["state"] as const, registers: [registry],
    }));
    this.extractions = reuse(registry, "footfall_api_extractions_total", () => new Counter({
      name: "footfall_api_extractions_total", help: "attribute extractor calls of reprocessing jobs, by result (ok, empty, error)",
      labelNames: ["result"] as const, registers: [registry],
    }));
  }
}

function reuse<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}
