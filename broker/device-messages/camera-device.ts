import type { DeviceRecord } from "../../contracts/device.ts";

/** Why this device may not publish camera messages (detections, status, chunks), or undefined if it may. */
export function checkCameraDevice(device: DeviceRecord): string | undefined {
  return device.kind === "camera" ? undefined : `device ${device.id} is a ${device.kind}, not a camera: only cameras publish detections and camera status`;
}
