import { z } from "zod";
import { SiteId, SpaceId } from "./ids.ts";

/**
 * Payloads of the results the broker publishes to MQTT readers (topics in topics.ts:
 * footfall/v1/{site}/out/...). JSON, UTF-8. Times are RFC 3339 (UTC). Every payload names its
 * site (and space), so a subscriber to footfall/v1/{site}/out/# needs nothing from the topic.
 */

const Iso = z.iso.datetime({ offset: true });

/**
 * footfall/v1/{site}/out/occupancy/{space}, retained: the space's current count. `at` is the
 * event time of the latest crossing counted, null if nothing was ever counted in the space.
 * `name` and `capacity` come from the site's topology (capacity null: none given).
 */
export const OutOccupancy = z.strictObject({
  site: SiteId,
  space: SpaceId,
  name: z.string(),
  count: z.number().int().nonnegative(),
  capacity: z.number().int().positive().nullable(),
  at: Iso.nullable(),
});
export type OutOccupancy = z.infer<typeof OutOccupancy>;

/** footfall/v1/{site}/out/site, retained: the site total. */
export const OutSiteOccupancy = z.strictObject({
  site: SiteId,
  count: z.number().int().nonnegative(),
  at: Iso.nullable(),
});
export type OutSiteOccupancy = z.infer<typeof OutSiteOccupancy>;

/**
 * footfall/v1/{site}/out/alerts, not retained: one message per alert as it opens ("over") or
 * clears, told apart by `type`. Today: capacity (a space's count above its capacity).
 */
export const OutCapacityAlert = z.strictObject({
  type: z.literal("capacity"),
  site: SiteId,
  space: SpaceId,
  name: z.string(),
  state: z.enum(["over", "cleared"]),
  count: z.number().int().nonnegative(),
  capacity: z.number().int().positive(),
  at: Iso,
});
export type OutCapacityAlert = z.infer<typeof OutCapacityAlert>;

export const OutAlert = z.discriminatedUnion("type", [OutCapacityAlert]);
export type OutAlert = z.infer<typeof OutAlert>;

/**
 * footfall/v1/{site}/out/person, not retained: a tracked person moved (or was ended): newest
 * floor position in metres, the space it is in, distance walked, appearance attributes.
 */
export const OutPerson = z.strictObject({
  site: SiteId,
  person: z.string(),
  at: Iso,
  x: z.number(),
  y: z.number(),
  space: z.string().nullable(),
  distance_m: z.number().nonnegative(),
  attrs: z.record(z.string(), z.strictObject({ value: z.string(), conf: z.number() })),
  ended: z.boolean(),
});
export type OutPerson = z.infer<typeof OutPerson>;

/**
 * footfall/v1/{site}/out/status, retained, plain text: "online" while this broker follows the
 * results (they are current), "offline" when it lost them or is shutting down. The availability
 * topic of the Home Assistant sensors.
 */
export const OUT_ONLINE = "online";
export const OUT_OFFLINE = "offline";
export const OutStatus = z.enum([OUT_ONLINE, OUT_OFFLINE]);
export type OutStatus = z.infer<typeof OutStatus>;

/**
 * Home Assistant MQTT discovery config of a space's occupancy sensor
 * (homeassistant/sensor/footfall_{site}/{space}/config, retained; an empty retained message
 * removes the sensor). Field names are Home Assistant's.
 */
export const HaSensorConfig = z.strictObject({
  name: z.string(),
  unique_id: z.string(),
  state_topic: z.string(),
  value_template: z.string(),
  unit_of_measurement: z.string(),
  state_class: z.literal("measurement"),
  icon: z.string(),
  json_attributes_topic: z.string(),
  availability_topic: z.string(),
  payload_available: z.literal(OUT_ONLINE),
  payload_not_available: z.literal(OUT_OFFLINE),
  device: z.strictObject({
    identifiers: z.array(z.string()).min(1),
    name: z.string(),
    manufacturer: z.string(),
    model: z.string(),
  }),
  origin: z.strictObject({ name: z.string() }),
});
export type HaSensorConfig = z.infer<typeof HaSensorConfig>;
