import { Counter, register as defaultRegistry, type Registry } from "prom-client";
import type { ActorContext } from "../runtime/types.ts";

/** A counter in `registry`, created once (behaviours of several actors share the registry). */
export function counterOf<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** Counts a skipped message under `reason` and logs why, with the actor's id. */
export type Skip = (ctx: ActorContext, reason: string, detail: Record<string, unknown>, message: string) => void;

export function skipper(counter: Counter<"reason">): Skip {
  return (ctx, reason, detail, message) => {
    counter.inc({ reason });
    ctx.log.warn({ actor: ctx.id, reason, ...detail }, message);
  };
}

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
