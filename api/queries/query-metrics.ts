import type { Counter, Histogram, Registry } from "prom-client";
import { counter, histogram } from "../../infra/metrics.ts";

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
    this.queries = counter(registry, "footfall_api_queries_total", "path, statistics and heatmap queries answered, by kind and HTTP status", ["kind", "status"]);
    this.duration = histogram(registry, "footfall_api_query_duration_seconds", "duration of path, statistics and heatmap queries, by kind",
      ["kind"], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
    this.jobs = counter(registry, "footfall_api_jobs_total", "reprocessing jobs created (queued) and finished (done, failed)", ["state"]);
    this.extractions = counter(registry, "footfall_api_extractions_total", "attribute extractor calls of reprocessing jobs, by result (ok, empty, error)", ["result"]);
  }
}
