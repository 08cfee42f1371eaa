import { DetectionFrame, frameMsgId } from "../../contracts/detection.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import type { FrameMsg } from "../../contracts/track-messages.ts";
import { checkCameraDevice } from "./camera-device.ts";
import type { DeviceMessage } from "./device-message.ts";
import { readSchema, type PayloadReading } from "./payload.ts";

/**
 * A camera's processed frame, stored as one FrameMsg on the camera actor's subject (the per-frame
 * batching the camera did is kept end to end), with Nats-Msg-Id "{camera}:f{seq}:{frame_ts}": a
 * re-sent frame is stored once inside JetStream's duplicate window (first de-duplication stage;
 * the camera actor is the second). Resolves to true if JetStream already had the frame.
 */
export const detections: DeviceMessage<DetectionFrame, boolean> = {
  ack: "after-store",
  checkDevice: checkCameraDevice,
  read: readDetectionFrame,
  store(publisher, device, frame, receivedAt) {
    const msg: FrameMsg = {
      type: "frame", site: device.site, camera: device.id, seq: frame.seq, frameTs: frame.frame_ts,
      receivedAt: Math.floor(receivedAt), detections: frame.detections,
    };
    return publisher.publish(ActorKinds.camera, `${device.site}.${device.id}`, msg, frameMsgId(device.id, frame.seq, frame.frame_ts));
  },
  newlyStored: (_frame, duplicate) => (duplicate ? 0 : 1),
  count(metrics, frame, duplicate) {
    if (duplicate) return metrics.duplicateFrames.inc();
    metrics.frames.inc();
    metrics.detections.inc(frame.detections.length);
  },
  describe: (frame) => ({ seq: frame.seq }),
};

/** A camera's detections payload (one processed frame), validated against the camera event contract. */
export function readDetectionFrame(payload: Buffer | string, maxBytes: number): PayloadReading<DetectionFrame> {
  const read = readSchema(payload, maxBytes, DetectionFrame);
  if (!read.ok) return read;
  const seen = new Set<string>();
  for (const d of read.value.detections) {
    if (seen.has(d.oid)) return { ok: false, reason: "invalid_payload", detail: `oid ${d.oid} appears more than once in the frame` };
    seen.add(d.oid);
  }
  return read;
}
