import { z } from "zod";
import { DeviceId, DoorwayId, SiteId, SpaceId } from "./ids.ts";

/**
 * Messages that travel through FF_ACTORS. The subject names the target actor;
 * the body is one of these (JSON). Every message has a deterministic Nats-Msg-Id so a
 * replay after a crash is dropped by JetStream inside its window and by the actor after it.
 */

/** broker -> doorway actor {site}.{doorway}: one DPU crossing, validated and authorised. */
export const CrossingMsg = z.strictObject({
  type: z.literal("crossing"),
  site: SiteId,
  doorway: DoorwayId,
  device: DeviceId,
  eventId: z.string().min(1).max(128),
  ts: z.number().int(),
  delta: z.union([z.literal(1), z.literal(-1)]),
  /** broker receive time (epoch ms), for latency figures */
  receivedAt: z.number().int(),
});
export type CrossingMsg = z.infer<typeof CrossingMsg>;

/** doorway actor -> space actor {site}.{space}: one person entered (+1) or left (-1) at ts. */
export const MoveMsg = z.strictObject({
  type: z.literal("move"),
  site: SiteId,
  space: SpaceId,
  /** "{device}:{eventId}": unique per crossing, the space actor's de-duplication key */
  key: z.string().min(1),
  ts: z.number().int(),
  delta: z.union([z.literal(1), z.literal(-1)]),
  receivedAt: z.number().int(),
});
export type MoveMsg = z.infer<typeof MoveMsg>;

/**
 * space actor -> site actor {site}: the space's count timeline from `from` on (inclusive) was
 * (re)computed; `points` are [ts, count] for every instant >= from at which the count changed,
 * plus the count holding just before `from` as `before`. `version` grows with every change of
 * the space's timeline: messages between two actors may arrive out of order (a publish retried
 * after a NATS outage lands after a later one), so the site keeps, per instant, the value of the
 * highest version it has seen.
 */
export const SpaceCountsMsg = z.strictObject({
  type: z.literal("space-counts"),
  site: SiteId,
  space: SpaceId,
  from: z.number().int(),
  before: z.number().int().nonnegative(),
  version: z.number().int().nonnegative(),
  points: z.array(z.tuple([z.number().int(), z.number().int().nonnegative()])),
});
export type SpaceCountsMsg = z.infer<typeof SpaceCountsMsg>;
