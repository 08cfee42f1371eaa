/**
 * Garment colours on synthetic images: sRGB -> CIELAB against reference values, named swatches of
 * every contract colour, a person-shaped figure (red torso over blue legs, head and shoes, on a
 * grey floor) inside its box, confidence falling as a region gets mixed, tiny boxes, boxes off the
 * image edge; and on real vtest.avi persons (names printed, ms per person printed).
 */
import { describe, expect, it } from "vitest";
import { COLOURS, type Colour } from "../../contracts/detection.ts";
import { colourName, garmentColours, regionColour, srgbToLab } from "../../models/garment-colour.ts";
import { Detector } from "../../models/detector.ts";
import { hasVtest, vtestFrame } from "./frames.ts";

type RGB = readonly [number, number, number];

/** swatches per contract name (CSS / everyday garment colours) */
const SWATCHES: Record<Colour, RGB[]> = {
  black: [[0, 0, 0], [30, 30, 30], [20, 20, 35], [40, 35, 30]],
  white: [[255, 255, 255], [235, 235, 240], [220, 220, 220]],
  grey: [[128, 128, 128], [90, 90, 90], [180, 180, 180], [110, 115, 120]],
  red: [[255, 0, 0], [200, 30, 30], [139, 0, 0], [180, 40, 50], [220, 20, 60]],
  orange: [[255, 165, 0], [255, 140, 0], [230, 120, 40], [255, 127, 80]],
  yellow: [[255, 255, 0], [240, 220, 40], [255, 215, 0], [200, 180, 30]],
  green: [[0, 128, 0], [0, 255, 0], [34, 139, 34], [60, 120, 60], [0, 100, 0]],
  blue: [[0, 0, 255], [0, 0, 128], [30, 60, 160], [70, 130, 180], [100, 149, 237], [25, 25, 112], [0, 255, 255]],
  purple: [[128, 0, 128], [160, 32, 240], [75, 0, 130], [148, 0, 211], [186, 85, 211]],
  pink: [[255, 192, 203], [255, 105, 180], [255, 20, 147], [219, 112, 147], [250, 160, 180]],
  brown: [[139, 69, 19], [160, 82, 45], [101, 67, 33], [120, 80, 50], [90, 60, 40]],
  beige: [[245, 245, 220], [225, 198, 153], [210, 180, 140], [200, 190, 160], [230, 215, 185]],
};

class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly width: number, readonly height: number, bg: RGB) {
    this.rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.rgb.set(bg, i * 3);
  }
  /** fills [x1, x2) x [y1, y2); `pattern` picks the colour per pixel */
  fill(x1: number, y1: number, x2: number, y2: number, pattern: (x: number, y: number) => RGB): void {
    [x1, y1, x2, y2] = [x1, y1, x2, y2].map(Math.round) as [number, number, number, number];
    for (let y = Math.max(0, y1); y < Math.min(this.height, y2); y++)
      for (let x = Math.max(0, x1); x < Math.min(this.width, x2); x++) this.rgb.set(pattern(x, y), (y * this.width + x) * 3);
  }
}

/** a person-shaped figure in box [x, y, x + w, y + h]: head, torso (with arms), legs with a gap, shoes */
function person(c: Canvas, x: number, y: number, w: number, h: number, upper: (x: number, y: number) => RGB, lower: (x: number, y: number) => RGB): [number, number, number, number] {
  const skin: RGB = [224, 172, 140];
  const shoes: RGB = [30, 30, 30];
  c.fill(x + 0.35 * w, y, x + 0.65 * w, y + 0.17 * h, () => skin);
  c.fill(x + 0.1 * w, y + 0.17 * h, x + 0.9 * w, y + 0.53 * h, upper);
  c.fill(x + 0.2 * w, y + 0.53 * h, x + 0.47 * w, y + 0.93 * h, lower);
  c.fill(x + 0.53 * w, y + 0.53 * h, x + 0.8 * w, y + 0.93 * h, lower);
  c.fill(x + 0.2 * w, y + 0.93 * h, x + 0.8 * w, y + h, () => shoes);
  return [x, y, x + w, y + h];
}

describe("garment colour", () => {
  it("converts sRGB to CIELAB (D65) like the reference formulas", () => {
    const close = (v: number[], e: number[]) => v.forEach((x, i) => expect(x).toBeCloseTo(e[i]!, 1));
    close(srgbToLab(255, 255, 255), [100, 0, 0]);
    close(srgbToLab(0, 0, 0), [0, 0, 0]);
    close(srgbToLab(255, 0, 0), [53.24, 80.09, 67.2]);
    close(srgbToLab(0, 0, 255), [32.3, 79.19, -107.86]);
    close(srgbToLab(128, 128, 128), [53.59, 0, 0]);
  });

  it("names swatches of every contract colour", () => {
    expect(Object.keys(SWATCHES).sort()).toEqual([...COLOURS].sort());
    const wrong: string[] = [];
    for (const [name, list] of Object.entries(SWATCHES)) {
      for (const c of list) {
        const got = colourName(...srgbToLab(...c));
        if (got !== name) wrong.push(`${c.join(",")}: ${got}, expected ${name}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("finds a red torso over blue legs on a grey floor, for several figure sizes", () => {
    for (const [w, h] of [[60, 150], [30, 80], [120, 300]] as const) {
      const c = new Canvas(400, 400, [128, 128, 128]);
      const box = person(c, 50, 40, w, h, () => [200, 30, 30], () => [30, 60, 160]);
      const g = garmentColours(c.rgb, c.width, c.height, box);
      expect([g.upper.value, g.lower.value]).toEqual(["red", "blue"]);
      expect(g.upper.conf).toBeGreaterThan(0.9);
      // the gap between the legs shows floor: lower than the torso, still clearly blue
      expect(g.lower.conf).toBeGreaterThan(0.6);
      expect(g.lower.votes.grey ?? 0).toBeGreaterThan(0);
    }
  });

  it("names each contract colour worn as a top and as trousers", () => {
    for (const name of COLOURS) {
      const col = SWATCHES[name][0]!;
      const other = SWATCHES[name === "green" ? "pink" : "green"][0]!;
      const bg: RGB = name === "grey" ? [60, 90, 60] : [128, 128, 128];
      const c = new Canvas(200, 300, bg);
      const top = garmentColours(c.rgb, c.width, c.height, person(c, 20, 20, 60, 150, () => col, () => other));
      const c2 = new Canvas(200, 300, bg);
      const bottom = garmentColours(c2.rgb, c2.width, c2.height, person(c2, 20, 20, 60, 150, () => other, () => col));
      expect([name, top.upper.value]).toEqual([name, name]);
      expect([name, bottom.lower.value]).toEqual([name, name]);
    }
  });

  it("gives less confidence to a mixed region", () => {
    const confOf = (upper: (x: number, y: number) => RGB) => {
      const c = new Canvas(200, 300, [128, 128, 128]);
      return garmentColours(c.rgb, c.width, c.height, person(c, 20, 20, 80, 200, upper, () => [30, 60, 160])).upper;
    };
    const solid = confOf(() => [200, 30, 30]);
    const striped70 = confOf((_, y) => (y % 10 < 7 ? [200, 30, 30] : [255, 255, 255]));
    const striped50 = confOf((_, y) => (y % 10 < 5 ? [200, 30, 30] : [255, 255, 255]));
    const checkColours: RGB[] = [[200, 30, 30], [255, 255, 255], [30, 120, 30]];
    const check = confOf((x, y) => checkColours[((x >> 2) + (y >> 2)) % 3]!);
    console.log(`upper conf: solid ${solid.conf.toFixed(2)}, 70/30 stripes ${striped70.conf.toFixed(2)}, 50/50 stripes ${striped50.conf.toFixed(2)}, 3-colour check ${check.conf.toFixed(2)}`);
    expect(solid.value).toBe("red");
    expect(striped70.value).toBe("red");
    expect(solid.conf).toBeGreaterThan(striped70.conf);
    expect(striped70.conf).toBeGreaterThan(striped50.conf);
    expect(striped50.conf).toBeGreaterThan(check.conf);
    expect(striped70.conf).toBeCloseTo(0.7, 1);
    expect(check.conf).toBeLessThan(0.45);
  });

  it("is cautious with tiny boxes and boxes off the image", () => {
    const c = new Canvas(100, 100, [128, 128, 128]);
    const tiny = garmentColours(c.rgb, c.width, c.height, person(c, 10, 10, 8, 20, () => [200, 30, 30], () => [30, 60, 160]));
    expect(tiny.upper.value).toBe("red");
    // 4x6 torso pixels, all red: share 1 scaled by 24/64
    expect(tiny.upper.samples).toBe(24);
    expect(tiny.upper.conf).toBeCloseTo(24 / 64, 6);
    const off = garmentColours(c.rgb, c.width, c.height, [150, 150, 200, 250]);
    expect(off.upper).toMatchObject({ conf: 0, samples: 0 });
    const edge = regionColour(c.rgb, c.width, c.height, [-20, -20, 5, 5]);
    expect(edge.samples).toBe(25);
    expect(edge.value).toBe("grey");
    expect(() => garmentColours(new Uint8Array(10), 100, 100, [0, 0, 10, 10])).toThrow(/bytes/);
  });

  it.skipIf(!hasVtest())("names the garments of real persons in vtest.avi (printed)", async () => {
    const det = await Detector.create({ intraOpNumThreads: 1, scoreThreshold: 0.35 });
    try {
      const names: string[] = [];
      let ms = 0;
      let n = 0;
      for (const s of [2, 20, 40]) {
        const f = vtestFrame(s);
        const { detections } = await det.detect(f.rgb, f.width, f.height);
        for (const d of detections) {
          const t0 = performance.now();
          const g = garmentColours(f.rgb, f.width, f.height, d.box);
          ms += performance.now() - t0;
          n++;
          expect(COLOURS).toContain(g.upper.value);
          expect(COLOURS).toContain(g.lower.value);
          expect(g.upper.samples).toBeGreaterThan(0);
          names.push(`${g.upper.value}/${g.lower.value}(${g.upper.conf.toFixed(2)},${g.lower.conf.toFixed(2)})`);
        }
      }
      console.log(`vtest persons upper/lower(conf): ${names.join(" ")}; ${(ms / n).toFixed(2)} ms per person`);
      expect(n).toBeGreaterThanOrEqual(4);
    } finally {
      await det.close();
    }
  });
});
