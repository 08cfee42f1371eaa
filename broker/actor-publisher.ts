import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { actorSubject } from "../contracts/nats-layout.ts";
import { CoalescingLanes } from "../infra/coalescing-lanes.ts";
import { JetStreamPublisher, UnconfirmedDuplicateError } from "../infra/js-publish.ts";
import { Semaphore } from "../infra/semaphore.ts";

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
  private readonly lanes: CoalescingLanes;

  constructor(private readonly js: JetStreamClient, private readonly opts: {
    partitions: number;
    maxInFlight?: number;
    /** a message was stored again without its id (see store()) */
    onStoredAgain?: (subject: string, msgId: string, err: Error) => void;
  }) {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
    this.partitions = opts.partitions;
    this.limit = new Semaphore(opts.maxInFlight ?? 256);
    const nc = (js as unknown as { nc: NatsConnection }).nc;
    this.publisher = new JetStreamPublisher(nc, { maxInFlight: opts.maxInFlight ?? 256, timeoutMs: js.getOptions().timeout ?? 5000 });
    this.lanes = new CoalescingLanes((subject, json, msgId) => this.store(subject, json, msgId));
  }

  /**
   * Stores one message; true if JetStream already had `msgId`. If JetStream keeps answering that
   * it has the id without having stored it (UnconfirmedDuplicateError: a store it proposed and
   * lost), the message is stored again without the id: device events carry their own ids, and
   * the actors de-duplicate them (a frame by its sequence, a crossing by its id), so a copy
   * stored twice changes nothing, while one acknowledged and never stored would be lost.
   */
  private store(subject: string, json: string, msgId: string | undefined): Promise<boolean> {
    return this.publisher.publish(subject, json, msgId).then(duplicateOf, (e: unknown) => {
      if (!(e instanceof UnconfirmedDuplicateError)) throw e;
      this.opts.onStoredAgain?.(subject, msgId!, e);
      return this.publisher.publish(subject, json).then(duplicateOf);
    });
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
    return this.store(actorSubject(kind, actorId, this.partitions), JSON.stringify(msg), msgID);
  }

  /**
   * Like publish(), but a subject keeps at most one store in flight: messages for it that arrive
   * meanwhile are stored together as one batch (infra/coalescing-lanes.ts). A lone message is
   * stored with its msgID; a batch's items resolve false (not known to be duplicates). Only for
   * kinds whose actors de-duplicate by the message's own key.
   */
  publishCoalesced(kind: string, actorId: string, msg: unknown, msgID?: string): Promise<boolean> {
    return this.lanes.add(actorSubject(kind, actorId, this.partitions), JSON.stringify(msg), msgID);
  }

  /** Stores coalesced so far: batches (more than one message) and the messages they held. */
  get coalesced(): { batches: number; items: number } {
    return this.lanes.coalesced;
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
