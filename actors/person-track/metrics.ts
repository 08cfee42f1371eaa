import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { counter as counterOf } from "../../infra/metrics.ts";

export interface PersonMetrics {
  skipped: Counter<"reason">;
  /** observations dropped because the track already holds maxBins seconds */
  dropped: Counter<never>;
}

export function personMetrics(registry: Registry = defaultRegistry): PersonMetrics {
  return {
    skipped: counterOf(registry, "footfall_person_skipped_total", "Person-track messages skipped: invalid, misrouted, job already applied", ["reason"]),
    dropped: counterOf(registry, "footfall_person_obs_dropped_total", "Observations dropped because the person track is at its bin cap", []),
  };
}
