import type { KeyView } from "../contracts/api-keys.ts";
import { HA_DISCOVERY_PREFIX, OUT_LEVEL, TOPIC_ROOT, siteOfResultTopic } from "../contracts/topics.ts";
import { mayRead, type Principal } from "../access/reader.ts";

/**
 * What an API key may do over MQTT (username = key id, password = the key): read the results of
 * the sites it covers, publish nothing.
 *
 * Subscriptions: footfall/v1/{site}/out/... (any wildcards after out/) for a site the key covers;
 * footfall/v1/+/out/... only for a key of every site ("*"); homeassistant/... (Home Assistant
 * subscribes to the whole discovery prefix), of which only the configs of the key's sites are
 * delivered (see mayReceive). Everything else is refused with the reason.
 */
export function readerSubscribeAccess(key: KeyView, filter: string): { ok: true } | { refused: string } {
  const who: Principal = { kind: "key", key };
  const t = filter.split("/");
  if (t[0] === HA_DISCOVERY_PREFIX) {
    const node = t[2];
    if (node !== undefined && node !== "+" && node !== "#" && node.startsWith("footfall_") && !mayRead(who, node.slice("footfall_".length))) {
      return { refused: `key ${key.id} does not cover the site of ${filter}` };
    }
    return { ok: true };
  }
  if (`${t[0]}/${t[1]}` !== TOPIC_ROOT || t.length < 4 || t[3] !== OUT_LEVEL) {
    return { refused: `key ${key.id} may subscribe only to ${TOPIC_ROOT}/{site}/${OUT_LEVEL}/# of its sites (or ${HA_DISCOVERY_PREFIX}/#), not to ${filter}` };
  }
  const site = t[2]!;
  if (site === "+") {
    return key.sites === "*" ? { ok: true } : { refused: `key ${key.id} does not cover every site: name one in ${filter}` };
  }
  if (site === "#" || site.length === 0) return { refused: `key ${key.id}: ${filter} names no site` };
  if (!mayRead(who, site)) return { refused: `key ${key.id} does not cover site ${site}` };
  return { ok: true };
}

/** Whether a message on `topic` may reach the key's connection (checked on every delivery, retained ones included). */
export function readerMayReceive(key: KeyView, topic: string): boolean {
  const site = siteOfResultTopic(topic);
  return site !== undefined && mayRead({ kind: "key", key }, site);
}
