import type { IPoint } from "influx";
import type { Logger } from "../../infra/log.ts";

/** How a message goes to another actor. */
export interface SendOptions {
  /**
   * Stored in FF_ACTORS after every earlier ordered send of this partition's actors to the same
   * actor, even when a publish fails and is retried: one of them in flight at a time. Without it
   * sends go out at once, and one retried after a failed publish (a nats-server lost, a leader
   * being elected) can be stored after a later one that went through. For receivers that rely on
   * their senders' order.
   */
  ordered?: boolean;
  /**
   * For receivers that de-duplicate by the body's own key (a move's crossing key): while a send
   * of this partition's actors to the same actor is being stored, later ones wait and are stored
   * together as one FF_ACTORS message (contracts/actor-batch.ts) once it is. A busy receiver
   * then costs JetStream one message per round trip. A batch carries no Nats-Msg-Id (msgId is
   * used when a send goes alone), so a replay reaches the receiver again. Not with `ordered`.
   */
  coalesce?: boolean;
}

/**
 * The contract between the actor runtime (actors/runtime/) and the actor kinds (actors/<kind>/).
 * The runtime knows nothing about doorways or spaces; a kind knows nothing about partitions,
 * leases or JetStream. footfall's kinds are written with defineBehavior (define-behavior.ts),
 * which parses and routes every message before the kind's own handler sees it.
 *
 * Rules for a behaviour:
 * - `handle` is called with one message at a time per actor, in stream order; it mutates `state`.
 * - Side effects only through `ctx` (send / write / emit). The runtime makes them durable
 *   (JetStream acks awaited, InfluxDB batch written) BEFORE the snapshot that covers the
 *   message is saved, so a crash replays the message and re-issues the same side effects.
 *   Side effects must therefore be idempotent: deterministic msgIds, InfluxDB points keyed by
 *   series + timestamp.
 * - State must be JSON-serialisable (or provide encode/decode).
 */
export interface ActorContext<Inbox extends object = Record<string, unknown>> {
  readonly kind: string;
  readonly id: string;
  readonly log: Logger;
  /**
   * Send a message to another actor through FF_ACTORS. msgId is the Nats-Msg-Id (deterministic!).
   * `Inbox` maps kind -> body type, so a kind can only be sent what it receives (the runtime
   * itself moves any JSON: its own context takes every kind and body).
   */
  send<K extends keyof Inbox & string>(kind: K, id: string, body: Inbox[K], msgId: string, opts?: SendOptions): void;
  /** Queue InfluxDB points (written in batches; same measurement+tags+time overwrites). */
  write(points: IPoint[]): void;
  /** Publish an event to FF_EVENTS (subject evt....). */
  emit(subject: string, body: unknown, msgId: string): void;
  /** Wall clock (ms); tests may replace it. */
  now(): number;
}

export interface MessageMeta {
  /** FF_ACTORS stream sequence */
  seq: number;
  subject: string;
  /** JetStream publish time (ms) */
  publishedAt: number;
}

export interface ActorBehavior<S = unknown> {
  readonly kind: string;
  initialState(id: string): S;
  /** Handle one message. Throwing is logged and counted; the message is then skipped (never retried in a loop). */
  handle(state: S, body: unknown, ctx: ActorContext, meta: MessageMeta): void | Promise<void>;
  /** Called at every flush (FOOTFALL_FLUSH_MS) for actors that handled messages since the last one: emit deferred writes. */
  flush?(state: S, ctx: ActorContext): void | Promise<void>;
  /**
   * For actors holding work that waits on time passing (a reorder buffer, an event-time merge):
   * asked at every flush tick while the actor is in memory but handled no message; true = flush
   * it anyway, so a stream's end is released without waiting for another message.
   */
  wantsFlush?(state: S): boolean;
  encode?(state: S): unknown;
  decode?(raw: unknown, id: string): S;
}

/** What a host serves: every behaviour, by kind. */
export type BehaviorRegistry = Map<string, ActorBehavior<any>>;
