import { acceptWindowMs } from "../../contracts/time.ts";
import type { DeviceRecord } from "../../contracts/device.ts";
import type { ActorPublisher } from "../actor-publisher.ts";
import type { BrokerMetrics } from "../broker-metrics.ts";
import type { PayloadReading } from "./payload.ts";

/**
 * What the broker does with one device message type (the {type} of footfall/v1/{site}/{kind}/{id}/{type}):
 * read the payload, check it against the device, store it in JetStream. A refusal at any step
 * drops the publish (see startMqttBroker); T is the read value, R what storing it resolves to.
 * Declared with method syntax so that a table can hold handlers of any T and R.
 */
export interface DeviceMessage<T = unknown, R = unknown> {
  /**
   * "after-store": the device gets its PUBACK only once JetStream stored the message (it resends
   * otherwise). "at-once": acknowledged on arrival, stored best effort (heartbeats, last wills).
   */
  readonly ack: "after-store" | "at-once";
  /** Why this device may not send this type at all (checked before reading), or undefined. */
  checkDevice?(device: DeviceRecord): string | undefined;
  read(payload: Buffer | string, maxBytes: number): PayloadReading<T>;
  /** Why this device may not send this value (refused as device_mismatch), or undefined. */
  check?(device: DeviceRecord, value: T): string | undefined;
  /**
   * Why the value is too old to accept (refused as too_late), or undefined: its events are older
   * than the raw retention allows (contracts/time.ts acceptWindowMs), so their points would be
   * dropped by InfluxDB while they were counted live.
   */
  tooLate?(value: T, now: number, limits: TimeLimits): string | undefined;
  /** Stores the value; rejects if JetStream did not confirm it. */
  store(publisher: ActorPublisher, device: DeviceRecord, value: T, receivedAt: number): Promise<R>;
  /** How many JetStream messages storing it added (not counting duplicates), for the ingest rate; 1 if not given. */
  newlyStored?(value: T, stored: R): number;
  /** Counts what was stored, beyond footfall_broker_publishes_accepted_total{type}. */
  count?(metrics: BrokerMetrics, value: T, stored: R): void;
  /** What the broker's log lines say about the value (event count, sequence number). */
  describe?(value: T): Record<string, unknown>;
}

/** The broker's bounds on event time. */
export interface TimeLimits {
  /** FOOTFALL_RAW_RETENTION, as configured */
  rawRetention: string;
  /** how old an event may be at the door (acceptWindowMs(rawRetention, "door")); undefined: any */
  windowMs: number | undefined;
}

/** The time limits at the door for a raw retention (FOOTFALL_RAW_RETENTION). */
export const timeLimits = (rawRetention: string): TimeLimits => ({ rawRetention, windowMs: acceptWindowMs(rawRetention, "door") });

/** Topic type -> its handler. A type with no handler is only JSON-checked and accepted ("other"). */
export type DeviceMessageTable = ReadonlyMap<string, DeviceMessage>;
