/**
 * The detector end to end (cached ONNX from models/cache, onnxruntime-node): a real pedestrian
 * frame from opencv-doc's vtest.avi must give at least 2 persons with score > 0.3; class filtering;
 * timings reported per stage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Detector } from "../../models/detector.ts";
import { greyFrame, hasVtest, vtestFrame } from "./frames.ts";

const NO_VTEST = !hasVtest();
if (NO_VTEST) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup)");

describe("detector", () => {
  let det: Detector;
  beforeAll(async () => {
    det = await Detector.create({ intraOpNumThreads: 1, scoreThreshold: 0.35 });
  });
  afterAll(async () => {
    await det?.close();
  });

  it.skipIf(NO_VTEST)("finds the pedestrians of vtest.avi (opencv-doc)", async () => {
    for (const seconds of [2, 20]) {
      const f = vtestFrame(seconds);
      const r = await det.detect(f.rgb, f.width, f.height);
      const persons = r.detections.filter((d) => d.score > 0.3);
      console.log(
        `${f.name}: ${persons.length} persons`,
        persons.map((d) => `${d.score.toFixed(2)}@[${d.box.map((v) => v.toFixed(0)).join(",")}]`).join(" "),
        "ms",
        Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Number(v.toFixed(1))])),
      );
      expect(persons.length).toBeGreaterThanOrEqual(2);
      for (const d of r.detections) {
        expect(det.className(d.cls)).toBe("person");
        const [x1, y1, x2, y2] = d.box;
        expect(x1).toBeGreaterThanOrEqual(0);
        expect(y1).toBeGreaterThanOrEqual(0);
        expect(x2).toBeLessThanOrEqual(f.width);
        expect(y2).toBeLessThanOrEqual(f.height);
        if (d.score > 0.5) {
          // confident pedestrians: taller than wide, a plausible size at this distance
          expect(y2 - y1).toBeGreaterThan(x2 - x1);
          expect(y2 - y1).toBeGreaterThan(30);
          expect(y2 - y1).toBeLessThan(f.height / 2);
        }
      }
    }
  });

  it("a flat grey frame has no person", async () => {
    const f = greyFrame(640, 360);
    const r = await det.detect(f.rgb, f.width, f.height);
    expect(r.detections).toEqual([]);
    expect(r.transform.padY).toBeGreaterThan(0);
  });

  it.skipIf(NO_VTEST)("keeps other classes when configured", async () => {
    const all = await Detector.create({ classes: [], scoreThreshold: 0.2 });
    const cars = await Detector.create({ classes: ["car"], scoreThreshold: 0.2 });
    try {
      const f = vtestFrame(2);
      const a = await all.detect(f.rgb, f.width, f.height);
      const c = await cars.detect(f.rgb, f.width, f.height);
      const names = new Set(a.detections.map((d) => all.className(d.cls)));
      console.log("classes at score > 0.2:", [...names].join(", "), "| cars:", c.detections.length);
      expect(names.has("person")).toBe(true);
      expect(c.detections.every((d) => cars.className(d.cls) === "car")).toBe(true);
      expect(a.detections.length).toBeGreaterThanOrEqual(c.detections.length);
    } finally {
      await all.close();
      await cars.close();
    }
  });

  it("rejects an unknown class", async () => {
    await expect(Detector.create({ classes: ["unicorn"] })).rejects.toThrow(/unicorn/);
  });
});
