import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { ACTOR_BATCH_MAX_BYTES, ACTOR_BATCH_MAX_ITEMS, encodeActorBatch } from "../contracts/actor-batch.ts";
import { actorSubject } from "../contracts/nats-layout.ts";
import { JetStreamPublisher } from "../infra/js-publish.ts";
import { Semaphore } from "../infra/semaphore.ts";

/** One message waiting in a lane for the store in flight on its subject. */
interface Waiting { json: string; msgID: string | undefined; resolve(duplicate: boolean): void; reject(err: unknown): void }

/** A subject's coalescing lane: at most one store in flight, what arrives meanwhile waits here. */
interface Lane { busy: boolean; waiting: Waiting[] }

/**
 * Stores messages in an actor's mailbox (FF_ACTORS, act.{p}.{kind}.{id}), for every device message
 * type and for HTTP ingest alike. At most `maxInFlight` JetStream publishes are outstanding over
 * all callers (and as many KV puts), so a burst of devices cannot queue unbounded work on the
 * NATS connection; publishes of concurrent callers leave in one socket write, and each costs no
 * more than its JetStream acknowledgement (infra/js-publish.ts).
 */
export class ActorPublisher {
  private readonly limit: Semaphore;
  private readonly publisher: JetStreamPublisher;
  private readonly partitions: number;
  private readonly buckets = new Map<string, Promise<KV>>();
  private readonly lanes = new Map<string, Lane>();
  private batches = 0;
  private batchedItems = 0;

  constructor(private readonly js: JetStreamClient, opts: { partitions: number; maxInFlight?: number }) {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
    this.partitions = opts.partitions;
    this.limit = new Semaphore(opts.maxInFlight ?? 256);
    const nc = (js as unknown as { nc: NatsConnection }).nc;
    this.publisher = new JetStreamPublisher(nc, { maxInFlight: opts.maxInFlight ?? 256, timeoutMs: js.getOptions().timeout ?? 5000 });
  }

  /** JetStream publishes (and KV puts) outstanding right now. */
  get inFlight(): number {
    return this.publisher.inFlight + this.limit.inFlight;
  }

  /**
   * Publishes `msg` as JSON to the actor's subject and resolves once JetStream stored it: true if
   * JetStream already had `msgID` (a re-send inside its duplicate window), false if it is new.
   * Without a msgID nothing is de-duplicated.
   */
  publish(kind: string, actorId: string, msg: unknown, msgID?: string): Promise<boolean> {
    return this.publisher.publish(actorSubject(kind, actorId, this.partitions), JSON.stringify(msg), msgID).then(duplicateOf);
  }

  /**
   * Like publish(), but a subject keeps at most one store in flight: messages for it that arrive
   * meanwhile (in the same turn, or while JetStream answers) are stored together as one batch
   * (contracts/actor-batch.ts) once it answered. A lone message is stored as itself with its
   * msgID, as publish() does; a batch has no Nats-Msg-Id (its items are de-duplicated by the
   * actor), so its items resolve false (not known to be duplicates). Each caller's promise
   * settles with the store that held its message. Only for kinds whose actors de-duplicate by
   * the message's own key.
   */
  publishCoalesced(kind: string, actorId: string, msg: unknown, msgID?: string): Promise<boolean> {
    const subject = actorSubject(kind, actorId, this.partitions);
    const json = JSON.stringify(msg);
    let lane = this.lanes.get(subject);
    if (!lane) this.lanes.set(subject, lane = { busy: false, waiting: [] });
    const l = lane;
    return new Promise<boolean>((resolve, reject) => {
      l.waiting.push({ json, msgID, resolve, reject });
      if (l.waiting.length === 1 && !l.busy) {
        // gather what else arrives in this turn (the other events of the same device publish)
        l.busy = true;
        setImmediate(() => this.drain(subject, l));
      }
    });
  }

  /** Stores coalesced so far: batches (more than one message) and the messages they held. */
  get coalesced(): { batches: number; items: number } {
    return { batches: this.batches, items: this.batchedItems };
  }

  private drain(subject: string, lane: Lane): void {
    let n = 0;
    let bytes = 0;
    while (n < lane.waiting.length && n < ACTOR_BATCH_MAX_ITEMS && (n === 0 || bytes + lane.waiting[n]!.json.length <= ACTOR_BATCH_MAX_BYTES)) {
      bytes += lane.waiting[n]!.json.length + 1;
      n++;
    }
    if (n === 0) {
      lane.busy = false;
      this.lanes.delete(subject);
      return;
    }
    const batch = lane.waiting.splice(0, n);
    const single = batch.length === 1;
    if (!single) {
      this.batches++;
      this.batchedItems += batch.length;
    }
    const data = single ? batch[0]!.json : encodeActorBatch(batch.map((w) => w.json));
    this.publisher.publish(subject, data, single ? batch[0]!.msgID : undefined).then(
      (ack) => { for (const w of batch) w.resolve(single && ack.duplicate); },
      (err: unknown) => { for (const w of batch) w.reject(err); },
    ).finally(() => this.drain(subject, lane));
  }

  /**
   * Puts `value` under `key` in the KV bucket `bucket` (provisioned, see infra/provision.ts), for
   * device messages of which only the newest counts (a camera's still); at most maxInFlight puts
   * outstanding. Resolves once JetStream stored it.
   */
  keep(bucket: string, key: string, value: Uint8Array): Promise<void> {
    return this.limit.run(async () => {
      let kv = this.buckets.get(bucket);
      if (!kv) {
        kv = new Kvm(this.js).open(bucket);
        kv.catch(() => this.buckets.delete(bucket)); // opened again by the next call
        this.buckets.set(bucket, kv);
      }
      await (await kv).put(key, value);
    });
  }
}

const duplicateOf = (ack: { duplicate: boolean }) => ack.duplicate;
