import { z } from "zod";
import { SiteId, SpaceId } from "./ids.ts";

/** Published to FF_EVENTS for dashboards when a current count changes. */
export const OccupancyChanged = z.strictObject({
  type: z.literal("occupancy.changed"),
  site: SiteId,
  space: SpaceId,
  count: z.number().int().nonnegative(),
  /** event time of the latest crossing counted (epoch ms) */
  at: z.number().int(),
});
export type OccupancyChanged = z.infer<typeof OccupancyChanged>;

export const SiteOccupancyChanged = z.strictObject({
  type: z.literal("site_occupancy.changed"),
  site: SiteId,
  count: z.number().int().nonnegative(),
  at: z.number().int(),
});
export type SiteOccupancyChanged = z.infer<typeof SiteOccupancyChanged>;

/**
 * Published to FF_EVENTS (evt.alert.{site}.{space}) when a space's current count goes above its
 * capacity (state "over") and when it is back at or below it ("cleared").
 */
export const CapacityAlert = z.strictObject({
  type: z.literal("alert.capacity"),
  site: SiteId,
  space: SpaceId,
  state: z.enum(["over", "cleared"]),
  count: z.number().int().nonnegative(),
  capacity: z.number().int().positive(),
  /** event time of the latest crossing counted (epoch ms) */
  at: z.number().int(),
});
export type CapacityAlert = z.infer<typeof CapacityAlert>;

/**
 * Published by a camera actor to FF_EVENTS (evt.track.{site}.{camera}) after each processed frame
 * with confirmed tracks: which detection went into which tracklet, and where on the floor it is.
 */
export const TrackUpdate = z.strictObject({
  type: z.literal("track.update"),
  site: SiteId,
  camera: z.string(),
  seq: z.number().int().nonnegative(),
  frameTs: z.number().int(),
  /** broker receive time of the frame (epoch ms), for latency figures */
  receivedAt: z.number().int(),
  /** [tid, oid of the detection matched in this frame, x, y (floor metres)] */
  tracks: z.array(z.tuple([z.string(), z.string(), z.number(), z.number()])),
  /** [tid, x1, y1, x2, y2] image pixels of each confirmed track's box in this frame (for camera tiles) */
  boxes: z.array(z.tuple([z.string(), z.number(), z.number(), z.number(), z.number()])).optional(),
});
export type TrackUpdate = z.infer<typeof TrackUpdate>;

/** Published by a person actor (evt.person.{site}) when a person's track changed: for live wall maps. */
export const PersonUpdate = z.strictObject({
  type: z.literal("person.update"),
  site: SiteId,
  person: z.string(),
  /** newest position [ts, x, y] */
  at: z.tuple([z.number().int(), z.number(), z.number()]),
  space: z.string().nullable(),
  distance_m: z.number().nonnegative(),
  attrs: z.record(z.string(), z.strictObject({ value: z.string(), conf: z.number() })),
  ended: z.boolean(),
});
export type PersonUpdate = z.infer<typeof PersonUpdate>;

/**
 * Published by each broker process every few seconds (evt.ingest.{site}.{broker}) while it
 * accepted device messages for the site: how many it stored in JetStream in that window.
 * A wall sums the newest window of every broker for the site's ingest rate.
 */
export const IngestRate = z.strictObject({
  type: z.literal("ingest.rate"),
  site: SiteId,
  broker: z.string(),
  /** device messages stored in the window, by message type (crossing, detections, ...) */
  messages: z.record(z.string(), z.number().int().nonnegative()),
  /** window end (epoch ms) and length */
  at: z.number().int(),
  windowMs: z.number().int().positive(),
});
export type IngestRate = z.infer<typeof IngestRate>;

/** Everything published to FF_EVENTS, by its `type`. */
export const FootfallEvent = z.discriminatedUnion("type", [
  OccupancyChanged, SiteOccupancyChanged, CapacityAlert, TrackUpdate, PersonUpdate, IngestRate,
]);
export type FootfallEvent = z.infer<typeof FootfallEvent>;
