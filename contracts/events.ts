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
