import { OUTSIDE } from "../../contracts/ids.ts";
import type { DeviceRecord } from "../../contracts/device.ts";
import type { TopologyDoc } from "../../contracts/topology.ts";

export type TopologyVerdict = { ok: true } | { ok: false; errors: string[] };

/**
 * The graph rules of a site's topology (seed 001): spaces are nodes, doorways directed edges
 * (exiting_to -> entering_to), "outside" is implied and never declared, a DPU sits over exactly
 * one doorway and a doorway has at most one DPU (two would count every crossing twice).
 * Device ids are unique across the installation: `existingDevices` answers what the registry
 * already holds, so a device of another site is refused.
 */
export function validateTopology(
  site: string,
  doc: TopologyDoc,
  existingDevices: (id: string) => DeviceRecord | undefined,
): TopologyVerdict {
  const errors: string[] = [];

  const spaces = new Set<string>();
  for (const s of doc.spaces) {
    if (s.id.toLowerCase() === OUTSIDE) {
      errors.push(`space "${s.id}": "${OUTSIDE}" is implied and must not be declared`);
      continue;
    }
    if (spaces.has(s.id)) errors.push(`space "${s.id}" is declared more than once`);
    spaces.add(s.id);
  }
  const isSpace = (id: string) => id === OUTSIDE || spaces.has(id);

  const doorways = new Set<string>();
  for (const d of doc.doorways) {
    if (doorways.has(d.id)) errors.push(`doorway "${d.id}" is declared more than once`);
    doorways.add(d.id);
    if (!isSpace(d.entering_to)) errors.push(`doorway "${d.id}": entering_to "${d.entering_to}" is not a space of site "${site}"`);
    if (!isSpace(d.exiting_to)) errors.push(`doorway "${d.id}": exiting_to "${d.exiting_to}" is not a space of site "${site}"`);
    if (d.entering_to === d.exiting_to) errors.push(`doorway "${d.id}" leads from "${d.exiting_to}" into itself`);
  }

  const devices = new Set<string>();
  const dpuOnDoorway = new Map<string, string>();
  for (const dev of doc.devices) {
    if (devices.has(dev.id)) errors.push(`device "${dev.id}" is declared more than once`);
    devices.add(dev.id);
    const known = existingDevices(dev.id);
    if (known && known.site !== site) errors.push(`device "${dev.id}" belongs to site "${known.site}"`);
    if (dev.doorway === undefined) {
      if (dev.kind === "dpu") errors.push(`device "${dev.id}": a dpu must be mounted over a doorway`);
      continue;
    }
    if (!doorways.has(dev.doorway)) {
      errors.push(`device "${dev.id}": doorway "${dev.doorway}" is not a doorway of site "${site}"`);
      continue;
    }
    if (dev.kind === "dpu") {
      const other = dpuOnDoorway.get(dev.doorway);
      if (other !== undefined && other !== dev.id) {
        errors.push(`device "${dev.id}": doorway "${dev.doorway}" already has dpu "${other}" (two would count every crossing twice)`);
      } else {
        dpuOnDoorway.set(dev.doorway, dev.id);
      }
    }
  }

  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}
