import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { counter } from "../../infra/metrics.ts";

export interface LinkerMetrics {
  /** tracklets by outcome: overlap / handover (linked to a person), new_person, noise (ended pending with < minObs),
   *  stale (pending, no update for personSilenceS) */
  tracklets: Counter<"outcome">;
  personsEnded: Counter<never>;
  /** camera messages heard before (re-sent after a camera partition was replayed), dropped */
  resent: Counter<never>;
  /** camera messages applied as they came, behind messages of a later frame time already applied */
  unordered: Counter<never>;
}

export function linkerMetrics(registry: Registry = defaultRegistry): LinkerMetrics {
  return {
    tracklets: counter(registry, "footfall_linker_tracklets_total",
      "Tracklets decided by the linker: linked by overlap or hand-over, started a new person, dropped as noise, or dropped as stale", ["outcome"]),
    personsEnded: counter(registry, "footfall_linker_persons_ended_total", "Persons ended by the linker after the silence period"),
    resent: counter(registry, "footfall_linker_resent_total", "Camera messages the linker had already heard (re-sent after a camera partition was replayed), dropped"),
    unordered: counter(registry, "footfall_linker_unordered_total",
      "Camera messages applied out of event-time order (their camera was not waited for: far behind, not heard yet, or released after a quiet spell); linking may differ from an in-order run"),
  };
}
