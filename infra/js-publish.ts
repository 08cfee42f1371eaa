import { createInbox, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";

/** What JetStream answered for a stored message. */
export interface StoredAck { stream: string; seq: number; duplicate: boolean }

/** JetStream did not store a message: its API error, no stream for the subject, or no answer in time. */
export class JetStreamPublishError extends Error {
  constructor(message: string, readonly code?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "JetStreamPublishError";
  }
}

/**
 * JetStream answered "duplicate" for a message with sequence 0: it holds the Nats-Msg-Id of a
 * store it proposed and never confirmed, so the message is not known to be stored (see
 * JetStreamPublisher). The same id keeps getting this answer until that store commits or the
 * stream's duplicate window drops the id.
 */
export class UnconfirmedDuplicateError extends JetStreamPublishError {
  constructor(subject: string, msgId: string, askedMs: number) {
    super(`JetStream answered that it already has ${msgId} on ${subject} but gave no sequence (a store it proposed and has not confirmed) for ${askedMs} ms`, 409);
    this.name = "UnconfirmedDuplicateError";
  }
}

/** Pause before a message answered as an unconfirmed duplicate is asked about again (ms). */
const REASK_MS = 200;

interface Pending {
  subject: string;
  data: Uint8Array | string;
  msgId: string | undefined;
  timeoutMs: number;
  deadline: number;
  /** when it was first sent (0: not yet) */
  sentAt: number;
  resolve(ack: StoredAck): void;
  reject(err: Error): void;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A Nats-Msg-Id header, encoded once as nats-core would ("NATS/1.0\r\nNats-Msg-Id: {id}\r\n\r\n",
 * MsgHdrsImpl.toString). nats-core's publish reads only a header object's encode() (protocol.js);
 * building a MsgHdrsImpl per message (a Map, key canonicalisation, value checks, then this same
 * string) is a noticeable share of a broker's CPU per message.
 */
class MsgIdHeader {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array { return this.bytes; }
}

/** An id nats-core would write unchanged: no CR / LF, no leading or trailing white space (it trims values). */
const PLAIN_ID = /^\S(?:[^\r\n]*\S)?$/;

function msgIdHeader(id: string): MsgHdrs {
  if (!PLAIN_ID.test(id)) {
    const h = headers(); // trims, or refuses CR / LF, as always
    h.set("Nats-Msg-Id", id);
    return h;
  }
  return new MsgIdHeader(encoder.encode(`NATS/1.0\r\nNats-Msg-Id: ${id}\r\n\r\n`)) as unknown as MsgHdrs;
}

/**
 * Publishes to JetStream and resolves with its acknowledgement, like `js.publish()` of
 * @nats-io/jetstream, at a fraction of the CPU per message:
 * - one wildcard reply subscription per connection ("{inbox}.*", a callback, no iterator)
 *   instead of the client's request machinery, which builds an Error (and its stack trace) for
 *   every request that succeeds (RequestOne.resolver → cancel() → `new RequestError("cancelled")`
 *   in @nats-io/nats-core, whatever `noAsyncTraces` says), plus a timer, a Promise.race and a
 *   mux entry per request;
 * - one sweep timer for all time-outs instead of one setTimeout per message;
 * - publishes queued by callers in the same turn leave together on one setImmediate (one socket
 *   write), at most `maxInFlight` unacknowledged at once; the rest wait in order.
 * A message is resolved only on JetStream's positive answer ({stream, seq}); an API error, a
 * no-responders status (no stream stores the subject) or no answer within the time-out rejects
 * it, and a late answer is ignored. A retry with the same Nats-Msg-Id is then de-duplicated by
 * the stream, as with `js.publish()`.
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private queue: Pending[] = [];
  private queueHead = 0;
  private next = 0;
  private scheduled = false;
  private sweeper: NodeJS.Timeout | undefined;
  private closedErr: Error | undefined;
  /** a message was asked about again (see reask()): pending deadlines are no longer in send order */
  private reasked = false;
  /** the time-outs publishes were sent with */
  private readonly timeouts = new Set<number>();

  constructor(private readonly nc: NatsConnection, private readonly opts: { timeoutMs?: number; maxInFlight?: number } = {}) {
    this.prefix = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (err, msg) => { if (!err) this.answer(msg); } });
    void nc.closed().then(() => this.fail(new JetStreamPublishError("connection closed")));
  }

  /** Publishes sent and not yet answered. */
  get inFlight(): number { return this.pending.size; }

  /** Publishes waiting for room (beyond maxInFlight). */
  get queued(): number { return this.queue.length - this.queueHead; }

  publish(subject: string, data: Uint8Array | string, msgId?: string, timeoutMs?: number): Promise<StoredAck> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise<StoredAck>((resolve, reject) => {
      this.queue.push({ subject, data, msgId, timeoutMs: timeoutMs ?? this.opts.timeoutMs ?? 5000, deadline: 0, sentAt: 0, resolve, reject });
      this.schedule();
    });
  }

  /** Stops the reply subscription; whatever is unanswered is rejected. */
  close(): void {
    this.fail(new JetStreamPublishError("publisher closed"));
    this.sub.unsubscribe();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.scheduled = false; this.send(); });
  }

  private send(): void {
    const max = this.opts.maxInFlight ?? Infinity;
    const now = Date.now();
    while (this.queueHead < this.queue.length && this.pending.size < max) {
      const p = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Pending;
      const token = (this.next++).toString(36);
      if (p.sentAt === 0) {
        p.sentAt = now;
        p.deadline = now + p.timeoutMs; // asked again (an unconfirmed duplicate): the first deadline stands
      }
      if (!this.timeouts.has(p.timeoutMs)) this.timeouts.add(p.timeoutMs);
      try {
        const h = p.msgId === undefined ? undefined : msgIdHeader(p.msgId);
        this.nc.publish(p.subject, p.data, { reply: `${this.prefix}.${token}`, headers: h });
      } catch (err) {
        p.reject(new JetStreamPublishError(`publish to ${p.subject} failed: ${(err as Error).message}`, undefined, { cause: err }));
        continue;
      }
      if (p.msgId === undefined) p.data = ""; // not kept while waiting (kept with an id: it may be asked again)
      this.pending.set(token, p);
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.pending.size > 0 && !this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), 100);
      this.sweeper.unref();
    }
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // late: already timed out
    this.pending.delete(token);
    this.room();
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      return p.reject(new JetStreamPublishError(`no responders for ${p.subject}: no stream stores it, or JetStream is not enabled`, 503));
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
    } catch (err) {
      return p.reject(new JetStreamPublishError(`invalid ack response for ${p.subject}`, undefined, { cause: err }));
    }
    if (ack.error) return p.reject(new JetStreamPublishError(`${ack.error.description ?? "jetstream error"} (${ack.error.err_code ?? ack.error.code})`, ack.error.code));
    if (!ack.stream) return p.reject(new JetStreamPublishError(`invalid ack response for ${p.subject}`));
    if (ack.duplicate === true && !(typeof ack.seq === "number" && ack.seq > 0) && p.msgId !== undefined) return this.reask(p);
    p.resolve({ stream: ack.stream, seq: ack.seq ?? 0, duplicate: ack.duplicate === true });
  }

  /**
   * A "duplicate" answer with sequence 0 does not say the message is stored. A replicated
   * stream's leader (nats-server 2.10, processClusteredInboundMsg) records a message's id when it
   * proposes the message, with sequence 0 until the store commits, and keeps that record if the
   * proposal is lost (the leader was cut off and its followers moved on without it): the id is
   * then answered as a duplicate, with sequence 0, for the whole duplicate window, though nothing
   * was stored (test/chaos/lost-proposal.test.ts makes such a leader). Counting that as stored
   * would acknowledge a device for a message JetStream never kept. So the
   * message is asked about again, the same id, every REASK_MS until its deadline: a store still
   * being committed answers with its sequence; one that was lost rejects with
   * UnconfirmedDuplicateError, and the caller decides (retry, or store it without the id).
   */
  private reask(p: Pending): void {
    setTimeout(() => {
      if (this.closedErr) return p.reject(this.closedErr);
      if (Date.now() + REASK_MS >= p.deadline) return p.reject(new UnconfirmedDuplicateError(p.subject, p.msgId!, Date.now() - p.sentAt));
      this.reasked = true; // its deadline is older than those sent meanwhile: sweep() no longer relies on their order
      this.queue.push(p);
      this.schedule();
    }, REASK_MS).unref();
  }

  /** An answer or a time-out freed a slot: queued publishes may go. */
  private room(): void {
    if (this.queueHead < this.queue.length) this.schedule();
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    // sent in order: with one time-out for all (the usual case), deadlines are in order too
    const ordered = this.timeouts.size === 1 && !this.reasked;
    for (const [token, p] of this.pending) {
      if (p.deadline > now) {
        if (ordered) break;
        continue;
      }
      this.pending.delete(token);
      p.reject(new JetStreamPublishError(`no answer from JetStream within ${p.timeoutMs} ms for ${p.subject}`, 408));
    }
    this.room();
  }

  private fail(err: Error): void {
    this.closedErr ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]!.reject(err);
    this.queue = [];
    this.queueHead = 0;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

const shared = new WeakMap<NatsConnection, JetStreamPublisher>();

/**
 * The connection's shared JetStreamPublisher (one reply subscription per connection), for a
 * JetStream client made with `jetstream(nc)`; its time-out is the client's (default 5 s).
 */
export function jetStreamPublisherOf(js: JetStreamClient): { publisher: JetStreamPublisher; timeoutMs: number } {
  const nc = (js as unknown as { nc: NatsConnection }).nc;
  let publisher = shared.get(nc);
  if (!publisher) shared.set(nc, publisher = new JetStreamPublisher(nc));
  return { publisher, timeoutMs: js.getOptions().timeout ?? 5000 };
}
