/**
 * Several messages for one actor stored as one FF_ACTORS message: {"type":"batch","items":[...]},
 * each item a body the actor's kind receives (contracts/actor-inbox.ts). The broker coalesces a
 * doorway's crossings this way while its previous store is still in flight, so a busy doorway
 * costs JetStream one message per round trip rather than one per crossing. The runtime hands the
 * items to the actor in order, as one message: no snapshot or checkpoint falls between them. A
 * batch carries no Nats-Msg-Id; its items are de-duplicated by the actor (a doorway remembers
 * every crossing key within the late horizon).
 */
export const ACTOR_BATCH_TYPE = "batch";

export interface ActorBatch { type: typeof ACTOR_BATCH_TYPE; items: unknown[] }

/** at most this many items in one batch */
export const ACTOR_BATCH_MAX_ITEMS = 512;
/** at most about this many bytes of items in one batch (well under nats-server's 1 MB default max_payload) */
export const ACTOR_BATCH_MAX_BYTES = 256 * 1024;

export function isActorBatch(body: unknown): body is ActorBatch {
  return typeof body === "object" && body !== null && (body as { type?: unknown }).type === ACTOR_BATCH_TYPE &&
    Array.isArray((body as { items?: unknown }).items);
}

/** The stored body of a batch of items already encoded as JSON. */
export const encodeActorBatch = (items: readonly string[]): string => `{"type":"${ACTOR_BATCH_TYPE}","items":[${items.join(",")}]}`;

/** The bodies one FF_ACTORS message holds: a batch's items, or the message itself. */
export const actorBodies = (body: unknown): unknown[] => (isActorBatch(body) ? body.items : [body]);
