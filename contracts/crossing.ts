import { z } from "zod";
import { DoorwayId } from "./ids.ts";
import { Timestamp } from "./time.ts";

/**
 * One doorway crossing as a DPU sends it (MQTT topic footfall/v1/{site}/dpu/{device}/crossing,
 * or HTTP POST /api/v1/dpus/{device}/crossings).
 * delta +1: a person moved from the doorway's exiting_to space into its entering_to space; -1 the reverse.
 */
export const CrossingEvent = z.strictObject({
  id: z.string().min(1, "id must not be empty").max(128, "id longer than 128 characters")
    .regex(/^[\x21-\x7e]+$/, "id must be printable ASCII without spaces"),
  ts: Timestamp,
  doorway: DoorwayId,
  delta: z.union([z.literal(1), z.literal(-1)], { error: "delta must be 1 or -1" }),
});
export type CrossingEvent = z.output<typeof CrossingEvent>;

/** Most events one batch may carry (bulk replay after an outage is sent in several batches). */
export const MAX_BATCH_EVENTS = 1000;

export const CrossingBatch = z.strictObject({
  events: z.array(CrossingEvent).min(1, "events must not be empty")
    .max(MAX_BATCH_EVENTS, `at most ${MAX_BATCH_EVENTS} events per batch`),
});

/** A DPU payload: one event or a batch. Parsed to a list. */
export const CrossingPayload = z
  .union([CrossingBatch, CrossingEvent], { error: "expected a crossing {id, ts, doorway, delta} or {events: [...]}" })
  .transform((p) => ("events" in p ? p.events : [p]));

/** HTTP ingest body: one event or an array of events. */
export const CrossingHttpBody = z
  .union([CrossingEvent, z.array(CrossingEvent).min(1).max(MAX_BATCH_EVENTS)])
  .transform((p) => (Array.isArray(p) ? p : [p]));

/** JetStream de-duplication id for a device's event (Nats-Msg-Id). */
export const crossingMsgId = (deviceId: string, eventId: string) => `${deviceId}:${eventId}`;
