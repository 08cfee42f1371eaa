import { z } from "zod";
import { DeviceId, DoorwayId, SpaceId, tokenId } from "./ids.ts";
import { DeviceKind } from "./device.ts";
import { PointDef } from "./geometry.ts";
import { DisplayName } from "./api-keys.ts";

export const LineId = tokenId("line id");

/**
 * Shapes of the topology document (PUT /api/v1/sites/{site}/topology). Graph rules live in
 * topology/validate.ts. Ids are tokens; names are DisplayName (1-200 characters, no control or
 * bidi formatting characters): they are shown on screens as they are.
 */
export const SpaceDef = z.strictObject({
  id: SpaceId,
  name: DisplayName,
  capacity: z.number().int().positive().optional(),
  /** outline on the floor plan, metres (needed for camera-based occupancy of the space) */
  polygon: z.array(PointDef).min(3, "a polygon needs at least 3 points").max(1000).optional(),
});
export type SpaceDef = z.infer<typeof SpaceDef>;

export const DoorwayDef = z.strictObject({
  id: DoorwayId,
  name: DisplayName.optional(),
  entering_to: SpaceId,
  exiting_to: SpaceId,
});
export type DoorwayDef = z.infer<typeof DoorwayDef>;

/**
 * A camera's calibration: pairs of image pixels and the floor-plan points (metres) they show.
 * The image -> floor homography is fitted from them (>= 4 pairs, no three floor points on a line).
 */
export const CameraCalibration = z.strictObject({
  image_points: z.array(PointDef).min(4, "at least 4 image points").max(100),
  floor_points: z.array(PointDef).min(4, "at least 4 floor points").max(100),
});
export type CameraCalibration = z.infer<typeof CameraCalibration>;

/** Walking time between this camera's view and another's (seconds; 0 when the views overlap). */
export const CameraNeighbour = z.strictObject({
  camera: DeviceId,
  min_s: z.number().min(0).max(86_400),
  max_s: z.number().min(0).max(86_400),
});
export type CameraNeighbour = z.infer<typeof CameraNeighbour>;

/** A virtual counting line on the floor plan (metres); "in" is crossing it from its left to its right, looking from a to b. */
export const CountingLine = z.strictObject({
  id: LineId,
  name: DisplayName.optional(),
  a: PointDef,
  b: PointDef,
});
export type CountingLine = z.infer<typeof CountingLine>;

/**
 * A device in a topology document. secret: given by the caller, or generated and returned once.
 * doorway: dpus (and doors). calibration, sees, neighbours, lines: cameras only.
 */
export const DeviceDef = z.strictObject({
  id: DeviceId,
  kind: DeviceKind,
  doorway: DoorwayId.optional(),
  secret: z.string().min(8, "secret must be at least 8 characters").max(200).optional(),
  calibration: CameraCalibration.optional(),
  sees: z.array(SpaceId).max(1000).optional(),
  neighbours: z.array(CameraNeighbour).max(1000).optional(),
  lines: z.array(CountingLine).max(100).optional(),
});
export type DeviceDef = z.infer<typeof DeviceDef>;

/**
 * Site-level switches for what footfall publishes to other systems.
 * homeAssistant: publish Home Assistant MQTT discovery configs for each space's occupancy sensor.
 */
export const SiteIntegrations = z.strictObject({
  homeAssistant: z.boolean().optional(),
});
export type SiteIntegrations = z.infer<typeof SiteIntegrations>;

export const TopologyDoc = z.strictObject({
  spaces: z.array(SpaceDef).max(10_000),
  doorways: z.array(DoorwayDef).max(10_000),
  devices: z.array(DeviceDef).max(10_000).default([]),
  integrations: SiteIntegrations.optional(),
});
export type TopologyDocIn = z.input<typeof TopologyDoc>;
export type TopologyDoc = z.output<typeof TopologyDoc>;

/** What is stored (KV ff_topology, key = site) and served: devices without secrets. */
export interface StoredTopology {
  site: string;
  spaces: SpaceDef[];
  doorways: DoorwayDef[];
  devices: Array<Omit<DeviceDef, "secret">>;
  integrations?: SiteIntegrations;
  updatedAt: string;
}
