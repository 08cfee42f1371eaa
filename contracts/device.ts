import { z } from "zod";
import { DeviceId, DoorwayId, SiteId } from "./ids.ts";

export const DeviceKind = z.enum(["dpu", "camera", "door"]);
export type DeviceKind = z.infer<typeof DeviceKind>;

/**
 * A device as the broker's registry knows it (NATS KV bucket ff_devices, key = device id).
 * The secret is never stored, only its scrypt hash (see topology/devices/device-secret.ts).
 */
export const DeviceRecord = z.strictObject({
  id: DeviceId,
  kind: DeviceKind,
  site: SiteId,
  doorway: DoorwayId.optional(),
  secretHash: z.string().min(1),
});
export type DeviceRecord = z.infer<typeof DeviceRecord>;
