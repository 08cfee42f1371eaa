import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { z } from "zod";
import type { ActorInboxes } from "../../contracts/actor-inbox.ts";
import { counter } from "../../infra/metrics.ts";
import type { ActorBehavior, ActorContext, MessageMeta } from "./types.ts";

/** What the kit itself skips for, before a kind's handler sees the message. */
type KitSkip = "invalid" | "misrouted";

/** A kind's view of its actor's context: typed sends, and skipping counted once for every kind. */
export interface KindContext<Reason extends string = never, Inbox extends object = ActorInboxes> extends ActorContext<Inbox> {
  /**
   * Counts a skipped message (or part of one) under footfall_actor_skipped_total{kind, reason};
   * with a message, also logs why, with the actor's id (warn, or debug for routine ones such as
   * duplicates).
   */
  skip(reason: Reason | KitSkip, detail?: Record<string, unknown>, message?: string, level?: "warn" | "debug"): void;
}

export interface KindDefinition<S, Schema extends z.ZodType, Reason extends string, Inbox extends object> {
  kind: string;
  /** what the kind receives (ActorInbox[kind]): an invalid body is skipped before `handle` */
  inbound: Schema;
  /** the id of the actor a message is for: a message that reached another actor is skipped as misrouted */
  target(msg: z.output<Schema>): string;
  /** the kind's own skip reasons beyond invalid and misrouted (they type ctx.skip) */
  skips?: readonly Reason[];
  /** prom-client registry of the skip counter (default: prom-client's global one) */
  registry?: Registry;
  initialState(id: string): S;
  handle(state: S, msg: z.output<Schema>, ctx: KindContext<Reason, Inbox>, meta: MessageMeta): void | Promise<void>;
  flush?(state: S, ctx: KindContext<Reason, Inbox>): void | Promise<void>;
  wantsFlush?(state: S): boolean;
  encode?(state: S): unknown;
  decode?(raw: unknown, id: string): S;
}

/**
 * An actor kind for the runtime (actors/runtime/types.ts) from its domain logic alone: every body
 * is parsed with `inbound`, a message for another actor is refused, and both are counted and
 * logged as skips; `handle` gets only valid messages of its own actor.
 */
export function defineBehavior<S, Schema extends z.ZodType, Reason extends string = never, Inbox extends object = ActorInboxes>(
  def: KindDefinition<S, Schema, Reason, Inbox>,
): ActorBehavior<S> {
  const { kind, inbound, target } = def;
  const skipped = counter(def.registry ?? defaultRegistry, "footfall_actor_skipped_total",
    "Actor messages (or parts of them) skipped, by kind and reason: invalid, misrouted, or a kind's own (duplicate, stale...)", ["kind", "reason"]);
  // one wrapper per runtime context (an actor in memory), not one per message
  const contexts = new WeakMap<ActorContext, KindContext<Reason, Inbox>>();
  const kindContext = (ctx: ActorContext) => {
    let k = contexts.get(ctx);
    if (!k) contexts.set(ctx, (k = wrap<Reason, Inbox>(ctx, kind, skipped)));
    return k;
  };

  const behavior: ActorBehavior<S> = {
    kind,
    initialState: (id) => def.initialState(id),
    handle(state, body, ctx, meta) {
      const k = kindContext(ctx);
      const parsed = inbound.safeParse(body);
      if (!parsed.success) return k.skip("invalid", { error: z.prettifyError(parsed.error) }, `invalid ${kind} message skipped`);
      const to = target(parsed.data);
      if (to !== ctx.id) return k.skip("misrouted", { to }, `${kind} message for another actor skipped`);
      return def.handle(state, parsed.data, k, meta);
    },
  };
  const { flush, wantsFlush, encode, decode } = def;
  if (flush) behavior.flush = (state, ctx) => flush.call(def, state, kindContext(ctx));
  if (wantsFlush) behavior.wantsFlush = wantsFlush;
  if (encode) behavior.encode = encode;
  if (decode) behavior.decode = decode;
  return behavior;
}

function wrap<Reason extends string, Inbox extends object>(ctx: ActorContext, kind: string, skipped: Counter<"kind" | "reason">): KindContext<Reason, Inbox> {
  return {
    // read through: a context's log may be replaced (child loggers, tests)
    get kind() { return ctx.kind; },
    get id() { return ctx.id; },
    get log() { return ctx.log; },
    send: (to, id, body, msgId, opts) => ctx.send(to, id, body, msgId, opts),
    write: (points) => ctx.write(points),
    emit: (subject, body, msgId) => ctx.emit(subject, body, msgId),
    now: () => ctx.now(),
    skip(reason, detail = {}, message, level = "warn") {
      skipped.inc({ kind, reason });
      if (message !== undefined) ctx.log[level]({ actor: ctx.id, reason, ...detail }, message);
    },
  };
}
