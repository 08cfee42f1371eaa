import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { counter } from "../../infra/metrics.ts";
import type { ActorContext } from "../runtime/types.ts";

export interface OccupancyMetrics {
  /** events too old to correct history exactly (beyond the late horizon), by actor kind */
  tooLate: Counter<"kind">;
  /** messages skipped for another reason (invalid, misrouted, unknown_doorway, future, duplicate), by kind and reason */
  skipped: Counter<"kind" | "reason">;
}

/** The occupancy actors' counters in `registry` (created once per registry). */
export function occupancyMetrics(registry: Registry = defaultRegistry): OccupancyMetrics {
  return {
    tooLate: counter(registry, "footfall_occupancy_too_late_total",
      "Crossings or moves older than the late horizon, ignored because they can no longer correct history exactly", ["kind"]),
    skipped: counter(registry, "footfall_occupancy_skipped_total",
      "Occupancy actor messages skipped: invalid, misrouted, unknown doorway, future timestamp or duplicate", ["kind", "reason"]),
  };
}

/** Counts a skipped message under `reason` and logs why, with the actor's id. */
export type SkipReporter = (ctx: ActorContext, reason: string, detail: Record<string, unknown>, message: string) => void;

export function skipReporter(metrics: OccupancyMetrics, kind: string): SkipReporter {
  return (ctx, reason, detail, message) => {
    metrics.skipped.inc({ kind, reason });
    ctx.log.warn({ actor: ctx.id, reason, ...detail }, message);
  };
}
