import { CameraStatus } from "../../contracts/detection.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import type { CameraStatusMsg } from "../../contracts/track-messages.ts";
import { checkCameraDevice } from "./camera-device.ts";
import type { DeviceMessage } from "./device-message.ts";
import { readSchema } from "./payload.ts";

/**
 * A camera's status heartbeat or last will, stored on the camera actor's subject without
 * de-duplication. Best effort: a heartbeat is acknowledged at once and never holds the connection
 * (the next one supersedes it; a last will has no connection left to hold).
 */
export const status: DeviceMessage<CameraStatus, boolean> = {
  ack: "at-once",
  checkDevice: checkCameraDevice,
  read: (payload, maxBytes) => readSchema(payload, maxBytes, CameraStatus),
  store(publisher, device, heartbeat, receivedAt) {
    const now = Math.floor(receivedAt);
    const msg: CameraStatusMsg = {
      type: "camera-status", site: device.site, camera: device.id, state: heartbeat.state, ts: heartbeat.ts ?? now,
      ...(heartbeat.fps === undefined ? {} : { fps: heartbeat.fps }),
      ...(heartbeat.width === undefined ? {} : { width: heartbeat.width }),
      ...(heartbeat.height === undefined ? {} : { height: heartbeat.height }),
      ...(heartbeat.uptime_s === undefined ? {} : { uptime_s: heartbeat.uptime_s }),
      receivedAt: now,
    };
    return publisher.publish(ActorKinds.camera, `${device.site}.${device.id}`, msg);
  },
};
