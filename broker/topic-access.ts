import type { DeviceRecord } from "../contracts/device.ts";
import { commandTopic, devicePrefix, parseDeviceTopic } from "../contracts/topics.ts";

/**
 * What a device may do with MQTT topics: publish only footfall/v1/{site}/{kind}/{ownId}/{type}
 * (one level for the type, never its own command topic), subscribe only to its command topic.
 * Returns the topic type, or the reason it is refused.
 */
export function publishAccess(device: DeviceRecord, topic: string): { type: string } | { refused: string } {
  const prefix = devicePrefix(device.site, device.kind, device.id);
  const parsed = topic.startsWith(prefix) ? parseDeviceTopic(topic) : undefined;
  if (!parsed || parsed.type.length === 0) {
    return { refused: `device ${device.id} may publish only to ${prefix}{type}, not to ${topic}` };
  }
  if (topic === commandTopic(device.site, device.kind, device.id)) {
    return { refused: `device ${device.id} may not publish to its own command topic ${topic}` };
  }
  return { type: parsed.type };
}

export function maySubscribe(device: DeviceRecord, topic: string): boolean {
  return topic === commandTopic(device.site, device.kind, device.id);
}
