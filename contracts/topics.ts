import type { DeviceKind } from "./device.ts";

/**
 * MQTT topic scheme, fixed for devices, simulator and tests:
 *   footfall/v1/{site}/{kind}/{deviceId}/{type}
 * Devices publish only under footfall/v1/{site}/{kind}/{ownId}/..., and may subscribe only to
 * footfall/v1/{site}/{kind}/{ownId}/cmd (their command topic).
 */
export const TOPIC_ROOT = "footfall/v1";

export const deviceTopic = (site: string, kind: DeviceKind, deviceId: string, type: string) =>
  `${TOPIC_ROOT}/${site}/${kind}/${deviceId}/${type}`;

export const devicePrefix = (site: string, kind: DeviceKind, deviceId: string) =>
  `${TOPIC_ROOT}/${site}/${kind}/${deviceId}/`;

export const commandTopic = (site: string, kind: DeviceKind, deviceId: string) =>
  deviceTopic(site, kind, deviceId, "cmd");

export interface ParsedTopic { site: string; kind: string; deviceId: string; type: string }

export function parseDeviceTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined;
  const [, , site, kind, deviceId, type] = parts as [string, string, string, string, string, string];
  return { site, kind, deviceId, type };
}
