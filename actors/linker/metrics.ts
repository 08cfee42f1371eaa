import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { counter as counterOf } from "../../infra/metrics.ts";

export interface LinkerMetrics {
  /** tracklets by outcome: overlap / handover (linked to a person), new_person, noise (ended pending with < minObs),
   *  stale (pending, no update for silenceS) */
  tracklets: Counter<"outcome">;
  personsEnded: Counter<never>;
  skipped: Counter<"reason">;
}

export function linkerMetrics(registry: Registry = defaultRegistry): LinkerMetrics {
  return {
    tracklets: counterOf(registry, "footfall_linker_tracklets_total",
      "Tracklets decided by the linker: linked by overlap or hand-over, started a new person, dropped as noise, or dropped as stale", ["outcome"]),
    personsEnded: counterOf(registry, "footfall_linker_persons_ended_total", "Persons ended by the linker after the silence period", []),
    skipped: counterOf(registry, "footfall_linker_skipped_total",
      "Linker messages or updates skipped: invalid, misrouted, straggler (update of a closed tracklet)", ["reason"]),
  };
}
