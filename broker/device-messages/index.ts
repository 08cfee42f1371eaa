import { chunk } from "./chunk.ts";
import { crossing } from "./crossing.ts";
import { detections } from "./detections.ts";
import type { DeviceMessage, DeviceMessageTable } from "./device-message.ts";
import { status } from "./status.ts";
import { still } from "./still.ts";

/**
 * The device message types the broker reads, checks and stores, by topic type: one handler file
 * each, one row here. A type not listed is only JSON-checked and accepted (counted as "other").
 */
export const deviceMessages: DeviceMessageTable = new Map<string, DeviceMessage>([
  ["crossing", crossing],
  ["detections", detections],
  ["status", status],
  ["chunk", chunk],
  ["still", still],
]);
