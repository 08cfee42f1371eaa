import { FieldType, type ISchemaOptions } from "influx";

/**
 * The InfluxDB layout of the occupancy slice: written by the doorway, space and site actors,
 * rolled up by continuous queries (infra/provision.ts), read by the HTTP API and Grafana.
 *
 *  crossings       tags site, doorway, device   one point per crossing (delta +1 / -1), at its event time
 *  occupancy       tags site, space             one point per instant a space's count changed: count
 *  site_occupancy  tag site                     one point per instant the site total changed: count
 *
 * Hourly rollups (retention policy "rollup", see influx-layout.ts): occupancy_1h and
 * site_occupancy_1h (peak, mean, last), crossings_1h (crossings, net).
 */
export const MEASUREMENT_CROSSINGS = "crossings";
export const MEASUREMENT_OCCUPANCY = "occupancy";
export const MEASUREMENT_SITE_OCCUPANCY = "site_occupancy";

/** The continuous queries' hourly aggregates, per raw measurement. */
export const ROLLUPS = [
  { measurement: MEASUREMENT_OCCUPANCY, select: `max("count") AS peak, mean("count") AS mean, last("count") AS last` },
  { measurement: MEASUREMENT_SITE_OCCUPANCY, select: `max("count") AS peak, mean("count") AS mean, last("count") AS last` },
  { measurement: MEASUREMENT_CROSSINGS, select: `count("delta") AS crossings, sum("delta") AS net` },
] as const;

/**
 * node-influx schemas for these measurements: without them node-influx writes every number as a
 * float; with them `delta` and `count` are written as integers. Pass them to the client that
 * writes the points (`new InfluxDB({ ..., schema: occupancySchemas() })` or `influx.addSchema`).
 * Fresh objects on every call: node-influx writes the database into the schema objects it is given.
 */
export function occupancySchemas(database?: string): ISchemaOptions[] {
  const db = database ? { database } : {};
  return [
    { ...db, measurement: MEASUREMENT_CROSSINGS, tags: ["site", "doorway", "device"], fields: { delta: FieldType.INTEGER } },
    { ...db, measurement: MEASUREMENT_OCCUPANCY, tags: ["site", "space"], fields: { count: FieldType.INTEGER } },
    { ...db, measurement: MEASUREMENT_SITE_OCCUPANCY, tags: ["site"], fields: { count: FieldType.INTEGER } },
  ];
}

/** Most points per write call (and per SpaceCountsMsg): a long correction goes out in several. */
export const POINTS_PER_CHUNK = 5000;
