import type { z } from "zod";
import { CrossingBatch, CrossingEvent, CrossingPayload, crossingMsgId } from "../../contracts/crossing.ts";
import { quickCrossingPayload } from "../../contracts/crossing-fast.ts";
import type { CrossingMsg } from "../../contracts/occupancy-messages.ts";
import type { DeviceRecord } from "../../contracts/device.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { describeIssues } from "../../infra/zod-issues.ts";
import type { ActorPublisher } from "../actor-publisher.ts";
import { tooOldProblem } from "../../contracts/time.ts";
import type { DeviceMessage, TimeLimits } from "./device-message.ts";
import { readJson, type PayloadReading } from "./payload.ts";

/** A DPU's crossings: one event or {events: [...]}, each stored on its doorway actor's subject. */
export const crossing: DeviceMessage<CrossingEvent[], StoredCrossings> = {
  ack: "after-store",
  read: readCrossings,
  check: checkDeviceCrossings,
  tooLate: (events, now, limits) => tooLateCrossings(events, now, limits),
  // over MQTT a device learns nothing of duplicates: a doorway's crossings are coalesced (see storeCrossings)
  store: (publisher, device, events, receivedAt) => storeCrossings(publisher, device, events, receivedAt, { coalesce: true }),
  newlyStored: (_events, stored) => stored.stored,
  count(metrics, _events, stored) {
    metrics.bridgedEvents.inc(stored.stored);
    metrics.duplicateEvents.inc(stored.duplicates);
  },
  describe: (events) => ({ events: events.length }),
};

/** A DPU's crossing payload (one event or {events: [...]}) as a list of validated events. */
export function readCrossings(payload: Buffer | string, maxBytes: number): PayloadReading<CrossingEvent[]> {
  const json = readJson(payload, maxBytes);
  if (!json.ok) return json;
  const quick = quickCrossingPayload(json.value); // one epoch-ms event, the common case, without zod
  if (quick) return { ok: true, value: quick };
  const parsed = CrossingPayload.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: "invalid_payload", detail: explainCrossingError(json.value, parsed.error) };
  return { ok: true, value: parsed.data };
}

/**
 * The union's own error only says "expected a crossing or a batch"; for an object, re-check it
 * against the shape it evidently meant (a batch if it has "events", else one event) to name
 * the field that is wrong.
 */
function explainCrossingError(value: unknown, unionError: z.ZodError): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return describeIssues(unionError);
  const meant = "events" in value ? CrossingBatch.safeParse(value) : CrossingEvent.safeParse(value);
  return meant.success ? describeIssues(unionError) : describeIssues(meant.error);
}

/**
 * Why this device may not report these crossings, or undefined if it may. Events must already be
 * schema-valid (CrossingPayload over MQTT, CrossingHttpBody over HTTP); this checks them against
 * the device record.
 */
export function checkDeviceCrossings(device: DeviceRecord, events: CrossingEvent[]): string | undefined {
  if (device.kind !== "dpu") return `device ${device.id} is a ${device.kind}, not a dpu: only dpus report crossings`;
  if (!device.doorway) return `device ${device.id} sits on no doorway`;
  if (events.length === 0) return "no crossing events";
  const seen = new Set<string>();
  for (const e of events) {
    if (e.doorway !== device.doorway) return `device ${device.id} sits on doorway ${device.doorway}, not ${e.doorway}`;
    if (seen.has(e.id)) return `event id ${e.id} appears more than once in the payload`;
    seen.add(e.id);
  }
  return undefined;
}

/**
 * Why these crossings are too old to accept, or undefined: one event older than the raw
 * retention allows refuses the whole payload (nothing of it is stored), so it is never counted
 * live with its history point dropped by InfluxDB.
 */
export function tooLateCrossings(events: CrossingEvent[], now: number, limits: TimeLimits): string | undefined {
  for (const e of events) {
    const problem = tooOldProblem(e.ts, now, limits.windowMs, limits.rawRetention);
    if (problem) return `event ${e.id}: ${problem}`;
  }
  return undefined;
}

export type StoredCrossings = { stored: number; duplicates: number };

/**
 * Stores a device's accepted crossings as CrossingMsg on the doorway actor's subject. All events
 * are published at once (within the publisher's bound); resolves when JetStream stored every
 * event, rejects if any was not: the caller must then not acknowledge the device, which will
 * retry (de-duplication makes that safe).
 * - By default one message per event, with Nats-Msg-Id "{device}:{event id}", so a device's retry
 *   (or the HTTP and MQTT paths both delivering one event) is stored once and reported as a
 *   duplicate (the HTTP API's 409).
 * - With `coalesce` (MQTT), the doorway's crossings are coalesced (ActorPublisher.publishCoalesced):
 *   the events of one payload, and those arriving while the doorway's previous store is in flight,
 *   are stored as one batch message. A retry inside a batch is then stored again and dropped by
 *   the doorway actor (which remembers every crossing key within the late horizon), and counted
 *   as stored here, not as a duplicate.
 */
export function storeCrossings(publisher: ActorPublisher, device: DeviceRecord, events: CrossingEvent[], receivedAt: number, o: { coalesce?: boolean } = {}): Promise<StoredCrossings> {
  const publish = (e: CrossingEvent) => {
    const msg: CrossingMsg = {
      type: "crossing", site: device.site, doorway: e.doorway, device: device.id, eventId: e.id, ts: e.ts, delta: e.delta,
      receivedAt: Math.floor(receivedAt),
    };
    const actor = `${device.site}.${e.doorway}`;
    const id = crossingMsgId(device.id, e.id);
    return o.coalesce ? publisher.publishCoalesced(ActorKinds.doorway, actor, msg, id) : publisher.publish(ActorKinds.doorway, actor, msg, id);
  };
  // one event (the common case): no list of settled results to build
  if (events.length === 1) {
    return publish(events[0]!).then(
      (duplicate) => (duplicate ? { stored: 0, duplicates: 1 } : { stored: 1, duplicates: 0 }),
      (err: unknown) => { throw notConfirmed(device, 1, [err]); },
    );
  }
  return Promise.allSettled(events.map(publish)).then((results) => tally(device, results));
}

function tally(device: DeviceRecord, results: PromiseSettledResult<boolean>[]): StoredCrossings {
  let stored = 0;
  let duplicates = 0;
  const failures: unknown[] = [];
  for (const r of results) {
    if (r.status === "rejected") failures.push(r.reason);
    else if (r.value) duplicates++;
    else stored++;
  }
  if (failures.length > 0) throw notConfirmed(device, results.length, failures);
  return { stored, duplicates };
}

function notConfirmed(device: DeviceRecord, of: number, failures: unknown[]): Error {
  const first = failures[0] instanceof Error ? failures[0].message : String(failures[0]);
  return new Error(`jetstream did not confirm ${failures.length} of ${of} crossings from ${device.id}: ${first}`, { cause: failures[0] });
}
