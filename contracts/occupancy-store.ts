import { FieldType, type ISchemaOptions } from "influx";

/** InfluxDB measurements written by the occupancy actors (read by the HTTP API and the rollup CQs). */
export const MEASUREMENT_CROSSINGS = "crossings";
export const MEASUREMENT_OCCUPANCY = "occupancy";
export const MEASUREMENT_SITE_OCCUPANCY = "site_occupancy";

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
