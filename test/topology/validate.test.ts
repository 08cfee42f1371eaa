import { describe, expect, it } from "vitest";
import { validateTopology } from "../../actors/topology/validate.ts";
import { TopologyDoc, type TopologyDocIn } from "../../contracts/topology.ts";
import type { DeviceRecord } from "../../contracts/device.ts";

const base: TopologyDocIn = {
  spaces: [{ id: "lobby", name: "Lobby" }, { id: "hall", name: "Hall" }],
  doorways: [
    { id: "front", entering_to: "lobby", exiting_to: "outside" },
    { id: "inner", entering_to: "hall", exiting_to: "lobby" },
  ],
  devices: [{ id: "dpu-front", kind: "dpu", doorway: "front" }, { id: "dpu-inner", kind: "dpu", doorway: "inner" }],
};

const nobody = () => undefined;
const check = (doc: TopologyDocIn, existing: (id: string) => DeviceRecord | undefined = nobody) =>
  validateTopology("hq", TopologyDoc.parse(doc), existing);
const errorsOf = (doc: TopologyDocIn, existing?: (id: string) => DeviceRecord | undefined) => {
  const v = check(doc, existing);
  return v.ok ? [] : v.errors;
};

describe("validateTopology", () => {
  it("accepts a well-formed site, including doorways to and from outside and a camera without doorway", () => {
    expect(check(base)).toEqual({ ok: true });
    expect(check({ ...base, devices: [...base.devices!, { id: "cam-1", kind: "camera" }] })).toEqual({ ok: true });
    expect(check({ spaces: [], doorways: [] })).toEqual({ ok: true });
  });

  it("refuses a doorway naming an unknown space, on either side", () => {
    const errs = errorsOf({ ...base, doorways: [...base.doorways, { id: "x", entering_to: "attic", exiting_to: "cellar" }] });
    expect(errs).toEqual([
      'doorway "x": entering_to "attic" is not a space of site "hq"',
      'doorway "x": exiting_to "cellar" is not a space of site "hq"',
    ]);
  });

  it("refuses a doorway into itself, outside included", () => {
    expect(errorsOf({ ...base, doorways: [{ id: "loop", entering_to: "lobby", exiting_to: "lobby" }], devices: [] }))
      .toEqual(['doorway "loop" leads from "lobby" into itself']);
    expect(errorsOf({ ...base, doorways: [{ id: "void", entering_to: "outside", exiting_to: "outside" }], devices: [] }))
      .toEqual(['doorway "void" leads from "outside" into itself']);
  });

  it("refuses declaring the implied outside space", () => {
    expect(errorsOf({ ...base, spaces: [...base.spaces, { id: "outside", name: "Street" }] }))
      .toEqual(['space "outside": "outside" is implied and must not be declared']);
    expect(errorsOf({ ...base, spaces: [...base.spaces, { id: "Outside", name: "Street" }] })).toHaveLength(1);
  });

  it("refuses duplicate space, doorway and device ids", () => {
    const errs = errorsOf({
      spaces: [...base.spaces, { id: "hall", name: "Hall again" }],
      doorways: [...base.doorways, { id: "front", entering_to: "hall", exiting_to: "outside" }],
      devices: [...base.devices!, { id: "dpu-front", kind: "camera" }],
    });
    expect(errs).toContain('space "hall" is declared more than once');
    expect(errs).toContain('doorway "front" is declared more than once');
    expect(errs).toContain('device "dpu-front" is declared more than once');
  });

  it("refuses a device on an unknown doorway and a dpu without a doorway", () => {
    expect(errorsOf({ ...base, devices: [{ id: "d1", kind: "dpu", doorway: "back" }] }))
      .toEqual(['device "d1": doorway "back" is not a doorway of site "hq"']);
    expect(errorsOf({ ...base, devices: [{ id: "d2", kind: "dpu" }] }))
      .toEqual(['device "d2": a dpu must be mounted over a doorway']);
  });

  it("refuses two dpus on one doorway (double counting) but allows a camera beside a dpu", () => {
    expect(errorsOf({ ...base, devices: [...base.devices!, { id: "dpu-2", kind: "dpu", doorway: "front" }] }))
      .toEqual(['device "dpu-2": doorway "front" already has dpu "dpu-front" (two would count every crossing twice)']);
    expect(check({ ...base, devices: [...base.devices!, { id: "cam", kind: "camera", doorway: "front" }] })).toEqual({ ok: true });
  });

  it("refuses a device id registered to another site, accepts one registered to this site", () => {
    const registered = (site: string) => (id: string): DeviceRecord | undefined =>
      id === "dpu-front" ? { id, kind: "dpu", site, doorway: "front", secretHash: "scrypt$00$00" } : undefined;
    expect(errorsOf(base, registered("annex"))).toEqual(['device "dpu-front" belongs to site "annex"']);
    expect(check(base, registered("hq"))).toEqual({ ok: true });
  });

  it("reports every broken rule at once", () => {
    const errs = errorsOf({
      spaces: [{ id: "outside", name: "x" }],
      doorways: [{ id: "d", entering_to: "nowhere", exiting_to: "nowhere" }],
      devices: [{ id: "p", kind: "dpu" }],
    });
    expect(errs.length).toBe(5);
  });
});
