import { z } from "zod";
import { DeviceId, DoorwayId, SpaceId } from "./ids.ts";
import { DeviceKind } from "./device.ts";

/** Shapes of the topology document (PUT /api/v1/sites/{site}/topology). Graph rules live in actors/topology/validate.ts. */
export const SpaceDef = z.strictObject({
  id: SpaceId,
  name: z.string().min(1).max(200),
  capacity: z.number().int().positive().optional(),
});
export type SpaceDef = z.infer<typeof SpaceDef>;

export const DoorwayDef = z.strictObject({
  id: DoorwayId,
  name: z.string().max(200).optional(),
  entering_to: SpaceId,
  exiting_to: SpaceId,
});
export type DoorwayDef = z.infer<typeof DoorwayDef>;

/** A device in a topology document. secret: given by the caller, or generated and returned once. */
export const DeviceDef = z.strictObject({
  id: DeviceId,
  kind: DeviceKind,
  doorway: DoorwayId.optional(),
  secret: z.string().min(8, "secret must be at least 8 characters").max(200).optional(),
});
export type DeviceDef = z.infer<typeof DeviceDef>;

export const TopologyDoc = z.strictObject({
  spaces: z.array(SpaceDef).max(10_000),
  doorways: z.array(DoorwayDef).max(10_000),
  devices: z.array(DeviceDef).max(10_000).default([]),
});
export type TopologyDocIn = z.input<typeof TopologyDoc>;
export type TopologyDoc = z.output<typeof TopologyDoc>;

/** What is stored (KV ff_topology, key = site) and served: devices without secrets. */
export interface StoredTopology {
  site: string;
  spaces: SpaceDef[];
  doorways: DoorwayDef[];
  devices: Array<Omit<DeviceDef, "secret">>;
  updatedAt: string;
}
