import { ActorKinds } from "../../contracts/nats-layout.ts";
import { chunkMsgId, type ChunkMsg } from "../../contracts/track-messages.ts";
import { ChunkMeta } from "../../contracts/video.ts";
import { checkCameraDevice } from "./camera-device.ts";
import type { DeviceMessage } from "./device-message.ts";
import { readSchema } from "./payload.ts";

/**
 * A camera agent's announcement of a video chunk the chunk store accepted (its signed ChunkMeta),
 * for this camera only, stored as a ChunkMsg on the camera actor's subject, de-duplicated by
 * "{camera}:c{seq}". Resolves to true if JetStream already had it.
 */
export const chunk: DeviceMessage<ChunkMeta, boolean> = {
  ack: "after-store",
  checkDevice: checkCameraDevice,
  read: (payload, maxBytes) => readSchema(payload, maxBytes, ChunkMeta),
  check: (device, meta) => meta.camera === device.id ? undefined : `chunk of camera ${meta.camera} announced by device ${device.id}`,
  store(publisher, device, meta, receivedAt) {
    const msg: ChunkMsg = {
      type: "chunk", site: device.site, camera: device.id, seq: meta.seq, start_ms: meta.start_ms, end_ms: meta.end_ms,
      duration_s: meta.duration_s, frames: meta.frames, bytes: meta.bytes, width: meta.width, height: meta.height,
      gap_before_ms: meta.gap_before_ms, receivedAt: Math.floor(receivedAt),
    };
    return publisher.publish(ActorKinds.camera, `${device.site}.${device.id}`, msg, chunkMsgId(device.id, meta.seq));
  },
  newlyStored: (_meta, duplicate) => (duplicate ? 0 : 1),
  describe: (meta) => ({ seq: meta.seq }),
};
