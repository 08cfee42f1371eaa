import type { DeviceDef, DoorwayDef, SpaceDef, StoredTopology, TopologyDoc } from "../contracts/topology.ts";
import { TopologyError } from "./topology-error.ts";

/**
 * Per-entity edits of a topology document (pure). The store reads the current document,
 * applies one of these, validates the result and writes it with a revision check.
 */

export const emptyDoc = (): TopologyDoc => ({ spaces: [], doorways: [], devices: [] });

export const docOf = (t: StoredTopology | undefined): TopologyDoc =>
  t ? { spaces: [...t.spaces], doorways: [...t.doorways], devices: [...t.devices], ...(t.integrations ? { integrations: t.integrations } : {}) } : emptyDoc();

function upsert<T extends { id: string }>(list: T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  return i < 0 ? [...list, item] : list.map((x, j) => (j === i ? item : x));
}

function without<T extends { id: string }>(list: T[], id: string, what: string, site: string): T[] {
  if (!list.some((x) => x.id === id)) throw new TopologyError("not_found", [`${what} "${id}" is not part of site "${site}"`]);
  return list.filter((x) => x.id !== id);
}

export const upsertSpace = (doc: TopologyDoc, space: SpaceDef): TopologyDoc => ({ ...doc, spaces: upsert(doc.spaces, space) });

export function removeSpace(doc: TopologyDoc, site: string, id: string): TopologyDoc {
  const spaces = without(doc.spaces, id, "space", site);
  const users = doc.doorways.filter((d) => d.entering_to === id || d.exiting_to === id).map((d) => d.id);
  if (users.length > 0) throw new TopologyError("in_use", [`space "${id}" is still used by doorway(s) ${users.map((u) => `"${u}"`).join(", ")}`]);
  return { ...doc, spaces };
}

export const upsertDoorway = (doc: TopologyDoc, doorway: DoorwayDef): TopologyDoc => ({ ...doc, doorways: upsert(doc.doorways, doorway) });

export function removeDoorway(doc: TopologyDoc, site: string, id: string): TopologyDoc {
  const doorways = without(doc.doorways, id, "doorway", site);
  const users = doc.devices.filter((d) => d.doorway === id).map((d) => d.id);
  if (users.length > 0) throw new TopologyError("in_use", [`doorway "${id}" still has device(s) ${users.map((u) => `"${u}"`).join(", ")}`]);
  return { ...doc, doorways };
}

export const upsertDevice = (doc: TopologyDoc, device: DeviceDef): TopologyDoc => ({ ...doc, devices: upsert(doc.devices, device) });

export const removeDevice = (doc: TopologyDoc, site: string, id: string): TopologyDoc =>
  ({ ...doc, devices: without(doc.devices, id, "device", site) });
