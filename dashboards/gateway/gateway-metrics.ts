import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { counter, gauge, histogram } from "../../infra/metrics.ts";

/** Why a live-feed socket ended (the `reason` label of footfall_live_disconnects_total). */
export type DisconnectReason =
  | "client" | "unauthorized" | "throttled" | "forbidden" | "bad_request" | "not_found" | "too_slow" | "revoked" | "heartbeat" | "shutdown" | "error";

/** The live feed's metrics (prom-client, through infra/metrics.ts). */
export class GatewayMetrics {
  readonly clients: Gauge<"site">;
  /** messages written to sockets, by message type (an Update by its event type) */
  readonly sent: Counter<"type">;
  /** an unsent update replaced by a newer one of the same entity */
  readonly coalesced: Counter<"type">;
  /** unsent updates thrown away with a socket that was closed */
  readonly dropped: Counter<"type">;
  readonly disconnects: Counter<"reason">;
  /** event time (a count's crossing, a frame's broker receipt, a person's newest position) to written to the socket */
  readonly lag: Histogram<"type">;
  readonly feedEvents: Counter<"type">;
  readonly feedInvalid: Counter<"reason">;
  readonly feedPosition: Gauge;
  readonly subscribes: Counter<"outcome">;

  constructor(registry: Registry, clientsBySite: () => Map<string, number>, position: () => number) {
    this.clients = gauge(registry, "footfall_live_clients", "live-feed websockets open, by the site they follow (\"\" before their first subscribe)", ["site"], function collect() {
      this.reset();
      for (const [site, n] of clientsBySite()) this.set({ site }, n);
    });
    this.sent = counter(registry, "footfall_live_messages_sent_total", "live-feed messages written to sockets, by type", ["type"]);
    this.coalesced = counter(registry, "footfall_live_messages_coalesced_total", "unsent live updates replaced by a newer one of the same entity (a slow client)", ["type"]);
    this.dropped = counter(registry, "footfall_live_messages_dropped_total", "unsent live updates thrown away with a closed socket", ["type"]);
    this.disconnects = counter(registry, "footfall_live_disconnects_total", "live-feed sockets ended, by reason", ["reason"]);
    this.lag = histogram(registry, "footfall_live_event_lag_seconds", "event time to the update written to a socket", ["type"],
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]);
    this.feedEvents = counter(registry, "footfall_live_feed_events_total", "FF_EVENTS events read by this process's live feed, by type", ["type"]);
    this.feedInvalid = counter(registry, "footfall_live_feed_invalid_total", "FF_EVENTS messages that were not valid events", ["reason"]);
    this.feedPosition = gauge(registry, "footfall_live_feed_position", "the FF_EVENTS sequence the live feed has applied", [], function collect() {
      this.set(position());
    });
    this.subscribes = counter(registry, "footfall_live_subscribes_total", "subscribes answered, by outcome (snapshot, resumed, or a snapshot after a resume could not be completed)", ["outcome"]);
  }
}
