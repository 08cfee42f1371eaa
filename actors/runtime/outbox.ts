import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { encodeActorBatch, takeBatch } from "../../contracts/actor-batch.ts";
import type { Logger } from "../../infra/log.ts";
import { jetStreamPublisherOf, type JetStreamPublisher } from "../../infra/js-publish.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import type { RuntimeMetrics } from "./metrics.ts";

/** One message waiting in a lane for the store in flight on its subject. */
interface Waiting { json: string; msgId: string; resolve(): void; reject(err: unknown): void }
/** A subject's coalescing lane: at most one store in flight, what is sent meanwhile waits here. */
interface Lane { busy: boolean; waiting: Waiting[] }

const utf8 = new TextDecoder();

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
 */
export class Outbox {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lanes = new Map<string, Lane>();
  private waiters: (() => void)[] = [];
  private abandoned = false;

  constructor(private readonly opts: {
    js: JetStreamClient;
    log: Logger;
    metrics?: RuntimeMetrics;
    maxInFlight?: number;
    timeoutMs?: number;
  }) {}

  get size(): number { return this.inFlight.size; }

  publish(subject: string, data: Uint8Array, msgId: string): void {
    if (this.abandoned) throw new OutboxAbandonedError();
    this.track(this.deliver(subject, data, msgId));
  }

  /**
   * Like publish(), but a subject keeps at most one store in flight: what is sent to it meanwhile
   * (in the same turn, or while JetStream answers) goes out together as one batch
   * (contracts/actor-batch.ts) once it is acknowledged. A lone message keeps its msgId; a batch
   * gets one made from its items' msgIds, so its own retries are de-duplicated by the stream.
   * Counts against maxInFlight and flush() per message, as publish() does.
   */
  publishCoalesced(subject: string, data: Uint8Array, msgId: string): void {
    if (this.abandoned) throw new OutboxAbandonedError();
    let lane = this.lanes.get(subject);
    if (!lane) this.lanes.set(subject, lane = { busy: false, waiting: [] });
    const l = lane;
    this.track(new Promise<void>((resolve, reject) => {
      l.waiting.push({ json: utf8.decode(data), msgId, resolve, reject });
      if (l.waiting.length === 1 && !l.busy) {
        l.busy = true;
        setImmediate(() => this.drain(subject, l));
      }
    }));
  }

  private drain(subject: string, lane: Lane): void {
    const batch = takeBatch(lane.waiting);
    if (batch.length === 0) {
      lane.busy = false;
      this.lanes.delete(subject);
      return;
    }
    const single = batch.length === 1;
    const data = single ? batch[0]!.json : encodeActorBatch(batch.map((w) => w.json));
    const msgId = single ? batch[0]!.msgId : `batch:${createHash("sha256").update(batch.map((w) => w.msgId).join("\n")).digest("base64url")}`;
    this.deliver(subject, data, msgId).then(
      () => { for (const w of batch) w.resolve(); },
      (err: unknown) => { for (const w of batch) w.reject(err); },
    ).finally(() => this.drain(subject, lane));
  }

  private track(p: Promise<void>): void {
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

  private async deliver(subject: string, data: Uint8Array | string, msgId: string): Promise<void> {
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
