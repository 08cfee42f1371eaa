import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Why the broker refused a connection, a publish or a subscription (label of footfall_broker_refused_total). */
export type RefusalReason =
  | "bad_credentials"   // CONNECT with unknown device or wrong secret, or an unknown, revoked or wrong API key
  | "unknown_device"    // the device was removed while connected
  | "topic_denied"      // publish outside the device's own prefix, or to its command topic
  | "subscribe_denied"  // a device's subscription other than its own command topic; a key's outside its sites' results
  | "too_large"         // payload above maxPayloadBytes
  | "invalid_json"
  | "invalid_payload"   // JSON that does not match the topic's schema
  | "device_mismatch"   // valid payload the device may not send (wrong doorway, not a dpu / camera, repeated ids)
  | "too_late"          // an event older than the raw retention allows (its points would be dropped)
  | "read_only"         // publish (or last will) by an API key's connection: readers publish nothing
  | "closing"           // publish while the broker shuts down (or a login while it does, or the registry fails)
  | "tls_handshake"     // a connection to the TLS listener whose handshake failed (plain MQTT, untrusted client, timeout)
  | "packet_too_large"  // a packet header announced more than the limit: connection closed before its body was read
  | "malformed_packet"  // a packet header with an invalid remaining length: connection closed
  | "connect_timeout"   // no CONNECT within the connect timeout: connection closed
  | "too_many_connections" // a device's connection beyond the per-device limit (CONNACK server unavailable)
  | "auth_throttled";   // CONNECT from an address banned after failed logins (refused unchecked)

export interface BrokerMetrics {
  connections: Gauge;
  accepted: Counter<"type">;
  refused: Counter<"reason">;
  bridgedEvents: Counter;
  duplicateEvents: Counter;
  bridgeFailures: Counter;
  storedAgain: Counter;
  bridgeLatency: Histogram;
  frames: Counter;
  detections: Counter;
  duplicateFrames: Counter;
  readsPaused: Counter;
}

/** The broker's prom-client metrics, registered in `registry`. `connected` is read at scrape time. */
export function createBrokerMetrics(registry: Registry, connected: () => number): BrokerMetrics {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: "footfall_broker_connections", help: "MQTT clients connected and authenticated", registers,
      collect() { this.set(connected()); },
    }),
    accepted: new Counter({ name: "footfall_broker_publishes_accepted_total", help: "MQTT publishes accepted (crossing: stored in JetStream)", labelNames: ["type"], registers }),
    refused: new Counter({ name: "footfall_broker_refused_total", help: "connections, publishes and subscriptions refused, by reason", labelNames: ["reason"], registers }),
    bridgedEvents: new Counter({ name: "footfall_broker_bridged_events_total", help: "crossing events newly stored in JetStream", registers }),
    duplicateEvents: new Counter({ name: "footfall_broker_duplicate_events_total", help: "crossing events JetStream already had (device retries)", registers }),
    bridgeFailures: new Counter({ name: "footfall_broker_bridge_failures_total", help: "publishes JetStream did not confirm (device not acknowledged)", registers }),
    storedAgain: new Counter({
      name: "footfall_broker_stored_again_total",
      help: "device messages stored again without their Nats-Msg-Id because JetStream kept answering that it had the id without having stored it (a lost proposal); the actors de-duplicate them",
      registers,
    }),
    bridgeLatency: new Histogram({
      name: "footfall_broker_bridge_latency_seconds", help: "time from a crossing publish's arrival to JetStream confirming all its events", registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    frames: new Counter({ name: "footfall_broker_frames_total", help: "camera frames newly stored in JetStream", registers }),
    detections: new Counter({ name: "footfall_broker_detections_total", help: "detections in camera frames newly stored in JetStream", registers }),
    duplicateFrames: new Counter({ name: "footfall_broker_duplicate_frames_total", help: "camera frames JetStream already had (re-sends)", registers }),
    readsPaused: new Counter({
      name: "footfall_broker_reads_paused_total", registers,
      help: "times the broker stopped reading a connection because it had FOOTFALL_MQTT_STORES_IN_FLIGHT stores in flight (or its socket did not take the PUBACKs)",
    }),
  };
}
