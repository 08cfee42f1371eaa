import { ACTOR_BATCH_MAX_BYTES, ACTOR_BATCH_MAX_ITEMS, encodeActorBatch } from "../contracts/actor-batch.ts";

/**
 * Stores one FF_ACTORS message: resolves once JetStream stored it (true if it already had
 * `msgId`, a re-send inside its duplicate window), rejects if it was not stored.
 */
export type StoreOne = (subject: string, json: string, msgId: string | undefined) => Promise<boolean>;

/** One message waiting in a lane for the store in flight on its subject. */
interface Waiting { json: string; msgId: string | undefined; resolve(duplicate: boolean): void; reject(err: unknown): void }

/** A subject's lane: at most one store in flight, what arrives meanwhile waits here. */
interface Lane { waiting: Waiting[] }

/**
 * Coalesces messages to actors (FF_ACTORS subjects) whose receivers de-duplicate by the message's
 * own key: a subject keeps at most one store in flight, and messages for it that arrive
 * meanwhile (in the same turn, or while JetStream answers) are stored together as one batch
 * (contracts/actor-batch.ts) once it answered. A busy actor then costs JetStream one message per
 * round trip rather than one per message. A lone message is stored as itself with its msgId; a
 * batch has no Nats-Msg-Id, so its items resolve false (not known to be duplicates). Each
 * caller's promise settles with the store that held its message.
 */
export class CoalescingLanes {
  private readonly lanes = new Map<string, Lane>();
  private batchCount = 0;
  private batchedItems = 0;

  constructor(private readonly store: StoreOne) {}

  add(subject: string, json: string, msgId?: string): Promise<boolean> {
    let lane = this.lanes.get(subject);
    const idle = !lane;
    if (!lane) this.lanes.set(subject, lane = { waiting: [] });
    const l = lane;
    return new Promise<boolean>((resolve, reject) => {
      l.waiting.push({ json, msgId, resolve, reject });
      // gather what else arrives in this turn before the first store
      if (idle) setImmediate(() => this.drain(subject, l));
    });
  }

  /** Stores coalesced so far: batches (more than one message) and the messages they held. */
  get coalesced(): { batches: number; items: number } {
    return { batches: this.batchCount, items: this.batchedItems };
  }

  private drain(subject: string, lane: Lane): void {
    let n = 0;
    let bytes = 0;
    while (n < lane.waiting.length && n < ACTOR_BATCH_MAX_ITEMS && (n === 0 || bytes + lane.waiting[n]!.json.length <= ACTOR_BATCH_MAX_BYTES)) {
      bytes += lane.waiting[n]!.json.length + 1;
      n++;
    }
    if (n === 0) {
      this.lanes.delete(subject);
      return;
    }
    const batch = lane.waiting.splice(0, n);
    const single = batch.length === 1;
    if (!single) {
      this.batchCount++;
      this.batchedItems += batch.length;
    }
    let stored: Promise<boolean>;
    try {
      stored = this.store(subject, single ? batch[0]!.json : encodeActorBatch(batch.map((w) => w.json)), single ? batch[0]!.msgId : undefined);
    } catch (err) {
      stored = Promise.reject(err);
    }
    stored.then(
      (duplicate) => { for (const w of batch) w.resolve(single && duplicate); },
      (err: unknown) => { for (const w of batch) w.reject(err); },
    ).finally(() => this.drain(subject, lane));
  }
}
