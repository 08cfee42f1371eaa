import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "../../infra/log.ts";
import { CoalescingLanes } from "../../infra/coalescing-lanes.ts";
import { jetStreamPublisherOf, type JetStreamPublisher } from "../../infra/js-publish.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import type { RuntimeMetrics } from "./metrics.ts";

export class OutboxAbandonedError extends Error {
  constructor() { super("outbox abandoned before every publish was acknowledged"); this.name = "OutboxAbandonedError"; }
}

/**
 * The JetStream publishes of one partition's actors (ctx.send / ctx.emit). Each publish goes out
 * at once with its Nats-Msg-Id and is retried with backoff until JetStream acknowledges it (a
 * retry of a publish that did land is dropped by the stream's duplicate window). At most
 * `maxInFlight` are outstanding: the partition waits on `room()` before its next message.
 * `flush()` resolves when everything published so far is acknowledged.
 * Publishes issued while the partition works through a run of messages go out together
 * (one socket write instead of one per message), through the connection's JetStreamPublisher
 * (infra/js-publish.ts), which costs no more per publish than its JetStream acknowledgement.
 * An ordered publish waits until the previous ordered publish to the same subject is
 * acknowledged: those are stored in the order issued, retries included (SendOptions.ordered).
 * A coalesced publish waits while a store to the same subject is in flight and then goes with
 * the others that waited, as one batch (SendOptions.coalesce, infra/coalescing-lanes.ts).
 */
export class Outbox {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** subject -> the last ordered publish to it still outstanding */
  private readonly chains = new Map<string, Promise<void>>();
  private waiters: (() => void)[] = [];
  private abandoned = false;
  private readonly lanes = new CoalescingLanes((subject, json, msgId) => this.deliver(subject, json, msgId).then(() => false));

  constructor(private readonly opts: {
    js: JetStreamClient;
    log: Logger;
    metrics?: RuntimeMetrics;
    maxInFlight?: number;
    timeoutMs?: number;
  }) {}

  get size(): number { return this.inFlight.size; }

  publish(subject: string, data: Uint8Array, msgId: string, ordered = false): void {
    if (this.abandoned) throw new OutboxAbandonedError();
    const before = ordered ? this.chains.get(subject) : undefined;
    const send = () => this.deliver(subject, data, msgId);
    // after an abandoned one, deliver throws at once: the chain ends there
    const p = before ? before.then(send, send) : send();
    if (ordered) {
      this.chains.set(subject, p);
      const unchain = () => { if (this.chains.get(subject) === p) this.chains.delete(subject); };
      p.then(unchain, unchain);
    }
    this.track(p);
  }

  /** Publishes `json` to `subject` coalesced with the others waiting for it (one batch, no Nats-Msg-Id unless alone). */
  coalesce(subject: string, json: string, msgId: string): void {
    if (this.abandoned) throw new OutboxAbandonedError();
    this.track(this.lanes.add(subject, json, msgId));
  }

  /** Messages stored in batches so far: batches (more than one message) and the messages they held. */
  get coalesced(): { batches: number; items: number } { return this.lanes.coalesced; }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    const settle = () => {
      this.inFlight.delete(p);
      if (this.inFlight.size < this.limit()) for (const w of this.waiters.splice(0)) w();
    };
    p.then(settle, settle);
  }

  /** Resolves when fewer than maxInFlight publishes are outstanding. */
  room(): Promise<void> {
    if (this.inFlight.size < this.limit() || this.abandoned) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when every publish issued before the call is acknowledged; rejects if the outbox is abandoned. */
  async flush(): Promise<void> {
    if (this.abandoned) throw new OutboxAbandonedError();
    await Promise.all([...this.inFlight]);
  }

  /** Stops retrying (the partition was lost or the host is going away). */
  abandon(): void {
    this.abandoned = true;
    for (const w of this.waiters.splice(0)) w();
  }

  private limit(): number { return this.opts.maxInFlight ?? 1000; }

  private publisher: JetStreamPublisher | undefined;

  private async deliver(subject: string, data: Uint8Array | string, msgId: string | undefined): Promise<void> {
    this.publisher ??= jetStreamPublisherOf(this.opts.js).publisher;
    for (let attempt = 0; ; attempt++) {
      if (this.abandoned) throw new OutboxAbandonedError();
      try {
        await this.publisher.publish(subject, data, msgId, this.opts.timeoutMs ?? 5000);
        return;
      } catch (e) {
        if (this.abandoned) throw new OutboxAbandonedError();
        this.opts.metrics?.publishRetries.inc();
        if (attempt === 0 || attempt % 10 === 0) {
          this.opts.log.warn({ subject, msgId, attempt, err: e }, "publish failed; retrying");
        }
        await pause(backoffMs(attempt, 2000));
      }
    }
  }
}
