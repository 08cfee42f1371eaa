import type { CapacityAlert, PersonUpdate } from "../../contracts/events.ts";
import {
  OUT_OFFLINE, OUT_ONLINE,
  type HaSensorConfig, type OutAlert, type OutOccupancy, type OutPerson, type OutSiteOccupancy,
} from "../../contracts/mqtt-out.ts";
import { haNodeId, outOccupancyTopic, outStatusTopic } from "../../contracts/topics.ts";

/** A count as the results know it: its value and the event time it holds from (null: never counted). */
export interface Count { count: number; at: number | null }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function occupancyMessage(site: string, space: string, c: Count, info: { name: string; capacity: number | null } | undefined): OutOccupancy {
  return { site, space, name: info?.name ?? space, count: c.count, capacity: info?.capacity ?? null, at: iso(c.at) };
}

export const siteMessage = (site: string, c: Count): OutSiteOccupancy => ({ site, count: c.count, at: iso(c.at) });

export function capacityAlertMessage(e: CapacityAlert, name: string | undefined): OutAlert {
  return {
    type: "capacity", site: e.site, space: e.space, name: name ?? e.space, state: e.state,
    count: e.count, capacity: e.capacity, at: new Date(e.at).toISOString(),
  };
}

export function personMessage(e: PersonUpdate): OutPerson {
  const [ts, x, y] = e.at;
  return {
    site: e.site, person: e.person, at: new Date(ts).toISOString(), x, y, space: e.space,
    distance_m: e.distance_m, attrs: e.attrs, ended: e.ended,
  };
}

/**
 * The Home Assistant discovery config of a space's occupancy sensor: state from the space's
 * retained results topic, available while this broker's status topic says online, grouped under
 * one device per site.
 */
export function haSensorConfig(site: string, space: string, name: string): HaSensorConfig {
  const state = outOccupancyTopic(site, space);
  return {
    name,
    unique_id: `footfall.${site}.${space}`,
    state_topic: state,
    value_template: "{{ value_json.count }}",
    unit_of_measurement: "people",
    state_class: "measurement",
    icon: "mdi:account-group",
    json_attributes_topic: state,
    availability_topic: outStatusTopic(site),
    payload_available: OUT_ONLINE,
    payload_not_available: OUT_OFFLINE,
    device: { identifiers: [haNodeId(site)], name: `footfall ${site}`, manufacturer: "footfall", model: "site" },
    origin: { name: "footfall" },
  };
}
