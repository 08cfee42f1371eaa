import { KV_STILLS } from "../../contracts/nats-layout.ts";
import { decodeStill, encodeStill, type Still } from "../../contracts/still.ts";
import { checkCameraDevice } from "./camera-device.ts";
import type { DeviceMessage } from "./device-message.ts";
import type { PayloadReading } from "./payload.ts";

/**
 * A camera's still (contracts/still.ts: a JSON header line and a JPEG, checked to be a JPEG of at
 * most STILL_MAX_WIDTH px and STILL_MAX_BYTES), kept as the camera's newest in KV ff_stills under
 * "{site}.{camera}" of the device that sent it (the topic is the device's own, so a camera can only
 * ever replace its own still). The bucket's TTL (STILL_TTL_MS) drops it a minute later; the API
 * serves it no longer than the camera's video retention either. Acknowledged once stored.
 */
export const still: DeviceMessage<Still, void> = {
  ack: "after-store",
  checkDevice: checkCameraDevice,
  read: readStill,
  store: (publisher, device, s) => publisher.keep(KV_STILLS, `${device.site}.${device.id}`, encodeStill(s.header, s.jpeg)),
  describe: (s) => ({ ts: s.header.ts, bytes: s.jpeg.length }),
};

function readStill(payload: Buffer | string, maxBytes: number): PayloadReading<Still> {
  const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  if (bytes.length > maxBytes) return { ok: false, reason: "too_large", detail: `payload of ${bytes.length} bytes exceeds the limit of ${maxBytes}` };
  const read = decodeStill(bytes);
  return read.ok ? { ok: true, value: read.still } : read;
}
