/**
 * The footfall database in InfluxDB 1.x (created by infra/provision.ts): two retention policies.
 * The measurements of each slice are in occupancy-store.ts and track-store.ts.
 *
 *  raw     (default) every point, kept FOOTFALL_RAW_RETENTION
 *  rollup  hourly aggregates fed by continuous queries, kept FOOTFALL_ROLLUP_RETENTION
 */
export const RP = { raw: "raw", rollup: "rollup" } as const;
export type RetentionPolicy = (typeof RP)[keyof typeof RP];

/** The hourly rollup of a raw measurement (in RP rollup). */
export const rollupOf = (measurement: string): string => `${measurement}_1h`;
