import { FieldType, type ISchemaOptions } from "influx";
import { fnv1a } from "./nats-layout.ts";

/**
 * The InfluxDB layout of the camera pipeline: written by the camera, person and zone actors,
 * read by the HTTP API and Grafana. Everything is pre-aggregated (per camera / zone per second,
 * one point per person track, one per closed visit), never one point per detection.
 *
 *  camera_stats    tags site, camera           per second: frames, detections (person detections
 *                                              kept after de-duplication), duplicates, late (frames
 *                                              too late to track), tracks (confirmed, at second end)
 *  camera_attrs    tags site, camera, attr     per second: n = detections that carried the attribute
 *                                              (tells which attributes were extracted when)
 *  camera_status   tags site, camera           per heartbeat: state, fps, width, height, uptime_s
 *  video_chunk     tags site, camera           per video chunk the store accepted (announced by the
 *                                              camera agent), time = chunk start: seq, duration_s,
 *                                              frames, bytes, width, height, gap_before_ms
 *  person          tag site                    one point per person track, rewritten as it grows;
 *                                              time = founding instant (+ a per-person ns offset)
 *  zone_occupancy  tags site, space            per second: count (camera-based)
 *  zone_visit      tags site, space            one point per closed visit: person, enter, leave, dwell_s
 *  zone_line       tags site, space, line      per second: in, out
 */
export const M = {
  cameraStats: "camera_stats",
  cameraAttrs: "camera_attrs",
  cameraStatus: "camera_status",
  videoChunk: "video_chunk",
  person: "person",
  zoneOccupancy: "zone_occupancy",
  zoneVisit: "zone_visit",
  zoneLine: "zone_line",
} as const;

/** Fields of a person point (the `person` measurement), as the person actor writes them. */
export interface PersonFields {
  person: string;
  /** first and last observation, epoch ms */
  start: number;
  end: number;
  distance_m: number;
  /** best value of the attribute ("" if none) and its confidence (0..1) */
  upper: string;
  upper_conf: number;
  lower: string;
  lower_conf: number;
  /** JSON {name: {value, conf}} of every attribute */
  attrs: string;
  /** JSON [[ts, x, y], ...]: the path, one point per metre moved (simplified) */
  path: string;
  /** JSON [[space, enter, leave], ...] */
  visits: string;
  /** JSON [[tid, camera, first ts, last ts], ...] */
  tracklets: string;
  /** "|cam-a|cam-b|" and "|space-a|space-b|", for filtering */
  cameras: string;
  spaces: string;
  /** observations folded in */
  obs: number;
  ended: boolean;
}

/** Point time (ns) of a person: its founding ms plus an offset from its id, so two persons never share a point. */
export const personPointNs = (foundedMs: number, person: string): string =>
  (BigInt(foundedMs) * 1_000_000n + BigInt(fnv1a(person) % 1_000_000)).toString();

/** Point time (ns) of a visit: enter ms plus an offset from the person id. */
export const visitPointNs = (enterMs: number, person: string): string => personPointNs(enterMs, person);

/** node-influx schemas (integers stay integers). Fresh objects per call: node-influx mutates them. */
export function trackSchemas(database?: string): ISchemaOptions[] {
  const db = database ? { database } : {};
  const I = FieldType.INTEGER, F = FieldType.FLOAT, S = FieldType.STRING, B = FieldType.BOOLEAN;
  return [
    { ...db, measurement: M.cameraStats, tags: ["site", "camera"], fields: { frames: I, detections: I, duplicates: I, late: I, tracks: I } },
    { ...db, measurement: M.cameraAttrs, tags: ["site", "camera", "attr"], fields: { n: I } },
    { ...db, measurement: M.cameraStatus, tags: ["site", "camera"], fields: { state: S, fps: F, width: I, height: I, uptime_s: F } },
    {
      ...db, measurement: M.videoChunk, tags: ["site", "camera"],
      fields: { seq: I, duration_s: F, frames: I, bytes: I, width: I, height: I, gap_before_ms: I },
    },
    {
      ...db, measurement: M.person, tags: ["site"],
      fields: {
        person: S, start: I, end: I, distance_m: F, upper: S, upper_conf: F, lower: S, lower_conf: F,
        attrs: S, path: S, visits: S, tracklets: S, cameras: S, spaces: S, obs: I, ended: B,
      },
    },
    { ...db, measurement: M.zoneOccupancy, tags: ["site", "space"], fields: { count: I } },
    { ...db, measurement: M.zoneVisit, tags: ["site", "space"], fields: { person: S, enter: I, leave: I, dwell_s: F } },
    { ...db, measurement: M.zoneLine, tags: ["site", "space", "line"], fields: { in: I, out: I } },
  ];
}
