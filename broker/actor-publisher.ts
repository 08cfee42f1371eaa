import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { actorSubject } from "../contracts/nats-layout.ts";
import { PublishTick } from "../infra/publish-tick.ts";
import { Semaphore } from "../infra/semaphore.ts";

/**
 * Stores messages in an actor's mailbox (FF_ACTORS, act.{p}.{kind}.{id}), for every device message
 * type and for HTTP ingest alike. At most `maxInFlight` JetStream publishes are outstanding over
 * all callers, so a burst of devices cannot queue unbounded work on the NATS connection, and
 * publishes of concurrent callers leave in one socket write (PublishTick).
 */
export class ActorPublisher {
  private readonly limit: Semaphore;
  private readonly tick = new PublishTick();
  private readonly partitions: number;
  private readonly buckets = new Map<string, Promise<KV>>();

  constructor(private readonly js: JetStreamClient, opts: { partitions: number; maxInFlight?: number }) {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
    this.partitions = opts.partitions;
    this.limit = new Semaphore(opts.maxInFlight ?? 256);
  }

  /** JetStream publishes outstanding right now. */
  get inFlight(): number {
    return this.limit.inFlight;
  }

  /**
   * Publishes `msg` as JSON to the actor's subject and resolves once JetStream stored it: true if
   * JetStream already had `msgID` (a re-send inside its duplicate window), false if it is new.
   * Without a msgID nothing is de-duplicated.
   */
  publish(kind: string, actorId: string, msg: unknown, msgID?: string): Promise<boolean> {
    const subject = actorSubject(kind, actorId, this.partitions);
    return this.limit.run(async () => {
      await this.tick.next();
      const ack = await this.js.publish(subject, JSON.stringify(msg), msgID === undefined ? undefined : { msgID });
      return ack.duplicate;
    });
  }

  /**
   * Puts `value` under `key` in the KV bucket `bucket` (provisioned, see infra/provision.ts), for
   * device messages of which only the newest counts (a camera's still); within the same bound of
   * outstanding publishes. Resolves once JetStream stored it.
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
