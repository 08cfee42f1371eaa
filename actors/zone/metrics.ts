import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { counter as counterOf } from "../../infra/metrics.ts";

export interface ZoneMetrics {
  /** invalid, misrouted, stale (a version not newer than the one kept) */
  skipped: Counter<"reason">;
  /** changed seconds (occupancy or line) older than the zone's kept history, not rewritten */
  tooLate: Counter<never>;
}

export function zoneMetrics(registry: Registry = defaultRegistry): ZoneMetrics {
  return {
    skipped: counterOf(registry, "footfall_zone_skipped_total", "Zone messages skipped: invalid, misrouted, stale version", ["reason"]),
    tooLate: counterOf(registry, "footfall_zone_too_late_total", "Changed seconds older than the zone's kept history (keepS), not rewritten", []),
  };
}
