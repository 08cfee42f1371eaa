import { describe, expect, it } from "vitest";
import { validateTopology } from "../../topology/validate.ts";
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

describe("validateTopology: cameras", () => {
  // a camera looking at the 10 m x 10 m lobby: image corners of a 640x480 view map to a trapezoid
  const calibration = {
    image_points: [[0, 480], [640, 480], [520, 120], [120, 120], [320, 300]] as [number, number][],
    floor_points: [[2, 0], [8, 0], [10, 10], [0, 10], [5, 3.5]] as [number, number][],
  };
  const lobby = { id: "lobby", name: "Lobby", polygon: [[0, 0], [10, 0], [10, 10], [0, 10]] as [number, number][] };
  const camDoc = (cam: Record<string, unknown>, more: Record<string, unknown>[] = []): TopologyDocIn => ({
    spaces: [lobby], doorways: [], devices: [{ id: "cam-1", kind: "camera", ...cam } as never, ...(more as never[])],
  });

  it("accepts a calibrated camera with sees, neighbours and lines", () => {
    expect(check(camDoc(
      { calibration, sees: ["lobby"], neighbours: [{ camera: "cam-2", min_s: 0, max_s: 5 }], lines: [{ id: "l1", a: [0, 5], b: [10, 5] }] },
      [{ id: "cam-2", kind: "camera", calibration }],
    ))).toEqual({ ok: true });
  });

  it("refuses degenerate and inconsistent calibrations with the reason", () => {
    const collinear = { image_points: [[0, 0], [10, 10], [20, 20], [30, 30]], floor_points: calibration.floor_points.slice(0, 4) };
    expect(errorsOf(camDoc({ calibration: collinear }))[0]).toMatch(/cam-1.*calibration is degenerate.*collinear/);
    const wrong = { ...calibration, floor_points: [[2, 0], [8, 0], [10, 10], [0, 10], [9, 9]] };
    expect(errorsOf(camDoc({ calibration: wrong }))[0]).toMatch(/calibration points disagree.*m RMS/);
    expect(() => TopologyDoc.parse(camDoc({ calibration: { image_points: [[0, 0]], floor_points: [[0, 0]] } }))).toThrow(/at least 4/);
  });

  it("refuses unknown spaces, neighbours, bad windows, duplicate lines and camera fields on other devices", () => {
    const errs = errorsOf(camDoc(
      { calibration, sees: ["attic"], neighbours: [{ camera: "cam-9", min_s: 5, max_s: 1 }, { camera: "cam-1", min_s: 0, max_s: 1 }],
        lines: [{ id: "l1", a: [0, 5], b: [10, 5] }, { id: "l1", a: [0, 6], b: [0, 6] }] },
      [{ id: "dpu-x", kind: "dpu", sees: ["lobby"] }],
    ));
    expect(errs).toEqual(expect.arrayContaining([
      'device "cam-1": sees "attic", which is not a space of the site',
      'device "cam-1": neighbour "cam-9" is not a camera of the site',
      'device "cam-1": neighbour "cam-9" has min_s 5 > max_s 1',
      'device "cam-1": a camera is not its own neighbour',
      'line "l1" is declared more than once',
      'line "l1" of device "cam-1" is shorter than 5 cm',
      'device "dpu-x": sees is for cameras only, not a dpu',
    ]));
  });

  it("refuses polygons without area or with crossing edges", () => {
    expect(errorsOf({ spaces: [{ id: "a", name: "A", polygon: [[0, 0], [1, 1], [2, 2]] }], doorways: [] }))
      .toEqual(['space "a": polygon has no area']);
    expect(errorsOf({ spaces: [{ id: "a", name: "A", polygon: [[0, 0], [4, 0], [0, 4], [5, 6]] }], doorways: [] }))
      .toEqual(['space "a": polygon edges cross each other']);
  });
});
