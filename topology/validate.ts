import { OUTSIDE } from "../contracts/ids.ts";
import type { DeviceRecord } from "../contracts/device.ts";
import type { TopologyDoc } from "../contracts/topology.ts";
import type { Point } from "../contracts/geometry.ts";
import { fitHomography, reprojectionError } from "./geometry/homography.ts";
import { isSimplePolygon, polygonArea } from "./geometry/polygon.ts";

/** Largest RMS error (metres) between calibration floor points and the fitted homography's mapping of their image points. */
export const MAX_CALIBRATION_RMS_M = 0.5;

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
    if (s.polygon) {
      const poly = s.polygon as Point[];
      if (Math.abs(polygonArea(poly)) < 1e-6) errors.push(`space "${s.id}": polygon has no area`);
      else if (!isSimplePolygon(poly)) errors.push(`space "${s.id}": polygon edges cross each other`);
    }
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

  errors.push(...cameraErrors(doc, spaces));
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}

/**
 * Camera rules: a camera's calibration (optional: without one its tracks are not placed on the floor plan) fits (>= 4 pairs, not degenerate,
 * RMS error <= MAX_CALIBRATION_RMS_M), sees spaces of the site, names camera neighbours of the site
 * with min_s <= max_s, and counting lines with ids unique in the site and a length. Camera fields
 * on other kinds are refused.
 */
function cameraErrors(doc: TopologyDoc, spaces: Set<string>): string[] {
  const errors: string[] = [];
  const cameras = new Set(doc.devices.filter((d) => d.kind === "camera").map((d) => d.id));
  const lineIds = new Set<string>();
  for (const dev of doc.devices) {
    const cameraFields = (["calibration", "sees", "neighbours", "lines"] as const).filter((f) => dev[f] !== undefined);
    if (dev.kind !== "camera") {
      if (cameraFields.length > 0) errors.push(`device "${dev.id}": ${cameraFields.join(", ")} ${cameraFields.length > 1 ? "are" : "is"} for cameras only, not a ${dev.kind}`);
      continue;
    }
    if (dev.calibration) {
      const img = dev.calibration.image_points as Point[];
      const floor = dev.calibration.floor_points as Point[];
      try {
        const H = fitHomography(img, floor);
        const rms = reprojectionError(H, img, floor);
        if (rms > MAX_CALIBRATION_RMS_M) errors.push(`device "${dev.id}": calibration points disagree: the best homography is off by ${rms.toFixed(2)} m RMS (at most ${MAX_CALIBRATION_RMS_M} m)`);
      } catch (e) {
        errors.push(`device "${dev.id}": ${(e as Error).message}`);
      }
    }
    for (const s of dev.sees ?? []) if (!spaces.has(s)) errors.push(`device "${dev.id}": sees "${s}", which is not a space of the site`);
    for (const n of dev.neighbours ?? []) {
      if (n.camera === dev.id) errors.push(`device "${dev.id}": a camera is not its own neighbour`);
      else if (!cameras.has(n.camera)) errors.push(`device "${dev.id}": neighbour "${n.camera}" is not a camera of the site`);
      if (n.min_s > n.max_s) errors.push(`device "${dev.id}": neighbour "${n.camera}" has min_s ${n.min_s} > max_s ${n.max_s}`);
    }
    for (const l of dev.lines ?? []) {
      if (lineIds.has(l.id)) errors.push(`line "${l.id}" is declared more than once`);
      lineIds.add(l.id);
      if (Math.hypot(l.a[0] - l.b[0], l.a[1] - l.b[1]) < 0.05) errors.push(`line "${l.id}" of device "${dev.id}" is shorter than 5 cm`);
    }
  }
  return errors;
}
