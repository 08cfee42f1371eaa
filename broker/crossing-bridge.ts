import type { JetStreamClient } from "@nats-io/jetstream";
import { crossingMsgId, type CrossingEvent } from "../contracts/crossing.ts";
import type { DeviceRecord } from "../contracts/device.ts";
import type { CrossingMsg } from "../contracts/actor-messages.ts";
import { ActorKinds, actorSubject } from "../contracts/nats-layout.ts";
import type { Logger } from "../infra/log.ts";
import { Semaphore } from "../infra/semaphore.ts";
import { PublishTick } from "../infra/publish-tick.ts";

/**
 * Why this device may not report these crossings, or undefined if it may. Events must already be
 * schema-valid (CrossingPayload / CrossingHttpBody); this checks them against the device record.
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

export interface BridgeResult { stored: number; duplicates: number }

/**
 * Forwards a device's accepted crossings into JetStream as CrossingMsg, one message per event,
 * on the doorway actor's subject, with Nats-Msg-Id "{device}:{event id}" so a device's retry
 * (or the HTTP and MQTT paths both delivering one event) is stored once.
 *
 * All events of a call are published at once, but at most `maxInFlight` publishes are
 * outstanding across every concurrent call. publish() resolves when JetStream acknowledged every
 * event and rejects if any was not: the caller must then not acknowledge the device, which
 * will retry (de-duplication makes that safe).
 */
export class CrossingBridge {
  private readonly limit: Semaphore;
  /** publishes of concurrent devices leave in one socket write */
  private readonly tick = new PublishTick();
  private readonly partitions: number;
  private readonly log: Logger | undefined;

  constructor(private readonly js: JetStreamClient, opts: { partitions: number; maxInFlight?: number; log?: Logger }) {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
    this.partitions = opts.partitions;
    this.limit = new Semaphore(opts.maxInFlight ?? 256);
    this.log = opts.log;
  }

  /** JetStream publishes outstanding right now (for metrics). */
  get inFlight(): number {
    return this.limit.inFlight;
  }

  async publish(device: DeviceRecord, events: CrossingEvent[], receivedAt: number): Promise<BridgeResult> {
    const results = await Promise.allSettled(events.map((e) => this.limit.run(() => this.publishOne(device, e, receivedAt))));
    let stored = 0;
    let duplicates = 0;
    const failures: unknown[] = [];
    for (const r of results) {
      if (r.status === "rejected") failures.push(r.reason);
      else if (r.value) duplicates++;
      else stored++;
    }
    if (failures.length > 0) {
      const first = failures[0] instanceof Error ? failures[0].message : String(failures[0]);
      this.log?.warn({ device: device.id, failed: failures.length, of: events.length, reason: first }, "crossings not confirmed by jetstream");
      throw new Error(`jetstream did not confirm ${failures.length} of ${events.length} crossings from ${device.id}: ${first}`, { cause: failures[0] });
    }
    return { stored, duplicates };
  }

  /** Publishes one event; resolves to true if JetStream already had it (duplicate). */
  private async publishOne(device: DeviceRecord, e: CrossingEvent, receivedAt: number): Promise<boolean> {
    const msg: CrossingMsg = {
      type: "crossing",
      site: device.site,
      doorway: e.doorway,
      device: device.id,
      eventId: e.id,
      ts: e.ts,
      delta: e.delta,
      receivedAt: Math.floor(receivedAt),
    };
    const subject = actorSubject(ActorKinds.doorway, `${device.site}.${e.doorway}`, this.partitions);
    await this.tick.next();
    const ack = await this.js.publish(subject, JSON.stringify(msg), { msgID: crossingMsgId(device.id, e.id) });
    return ack.duplicate;
  }
}
