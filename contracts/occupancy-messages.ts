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

/**
 * Deterministic message ids of the occupancy slice (Nats-Msg-Id in FF_ACTORS and FF_EVENTS): a
 * replayed message gets the same id, so JetStream stores it once inside its duplicate window.
 */
export const occupancyMsgIds = {
  /** doorway -> space: one crossing's move into or out of `space` (key = "{device}:{eventId}") */
  move: (site: string, space: string, key: string) => `mv:${site}:${space}:${key}`,
  /** space -> site: chunk `chunk` of the space's tail from `from` at timeline version `version` */
  spaceCounts: (site: string, space: string, from: number, version: number, chunk: number) => `sc:${site}:${space}:${from}:${version}:${chunk}`,
  /** event occupancy.changed of a space at timeline version `version` */
  occupancyChanged: (site: string, space: string, version: number) => `oc:${site}:${space}:${version}`,
  /** event alert.capacity of a space at timeline version `version` */
  capacityAlert: (site: string, space: string, version: number) => `al:${site}:${space}:${version}`,
  /** event site_occupancy.changed at the site's timeline version `version` */
  siteOccupancyChanged: (site: string, version: number) => `so:${site}:${version}`,
};
