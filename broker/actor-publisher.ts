import type { JetStreamClient } from "@nats-io/jetstream";
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
}
