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

/**
 * Results back over MQTT: what footfall concludes, published by the broker, read-only, for
 * integrators holding an API key (username = key id, password = the key):
 *   footfall/v1/{site}/out/occupancy/{space}  retained  OutOccupancy (contracts/mqtt-out.ts)
 *   footfall/v1/{site}/out/site               retained  OutSiteOccupancy
 *   footfall/v1/{site}/out/alerts                       OutAlert
 *   footfall/v1/{site}/out/person                       OutPerson
 *   footfall/v1/{site}/out/status             retained  "online" | "offline" (this broker's results are current)
 * and, for sites with Home Assistant discovery switched on, one retained sensor config per space:
 *   homeassistant/sensor/footfall_{site}/{space}/config
 * (node id footfall_{site}, object id {space}: ids may contain "_", so the site is a level of its own).
 */
export const OUT_LEVEL = "out";

export const outPrefix = (site: string) => `${TOPIC_ROOT}/${site}/${OUT_LEVEL}/`;
/** Everything a reader of the site may subscribe to. */
export const outFilter = (site: string) => `${outPrefix(site)}#`;
export const outOccupancyTopic = (site: string, space: string) => `${outPrefix(site)}occupancy/${space}`;
export const outSiteTopic = (site: string) => `${outPrefix(site)}site`;
export const outAlertsTopic = (site: string) => `${outPrefix(site)}alerts`;
export const outPersonTopic = (site: string) => `${outPrefix(site)}person`;
export const outStatusTopic = (site: string) => `${outPrefix(site)}status`;

/** Home Assistant's default MQTT discovery prefix. */
export const HA_DISCOVERY_PREFIX = "homeassistant";
export const haNodeId = (site: string) => `footfall_${site}`;
export const haSensorConfigTopic = (site: string, space: string) =>
  `${HA_DISCOVERY_PREFIX}/sensor/${haNodeId(site)}/${space}/config`;

/** The site of a results topic (footfall/v1/{site}/out/...) or of a discovery topic footfall publishes; undefined for any other topic. */
export function siteOfResultTopic(topic: string): string | undefined {
  const t = topic.split("/");
  if (`${t[0]}/${t[1]}` === TOPIC_ROOT && t.length >= 5 && t[3] === OUT_LEVEL && t[2]) return t[2];
  if (t[0] === HA_DISCOVERY_PREFIX && t.length === 5 && t[4] === "config" && t[2]?.startsWith("footfall_")) {
    return t[2].slice("footfall_".length) || undefined;
  }
  return undefined;
}
