import { fnv1a } from "../../contracts/nats-layout.ts";

/**
 * InfluxDB point timestamps of the occupancy actors are integer NANOSECOND strings, so they must
 * be written with precision "n" (node-influx's default). Epoch ms values from 2000..2100 are
 * beyond 2^53 once multiplied by 1e6, hence strings, not numbers.
 */
export function msToNs(ms: number): string {
  return `${ms}000000`;
}

/** ts in ms plus a sub-millisecond part from the event key: distinct crossings in the same ms stay distinct points. */
export function uniqueNs(ms: number, key: string): string {
  return `${ms}${String(fnv1a(key) % 1_000_000).padStart(6, "0")}`;
}
