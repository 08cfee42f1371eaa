/**
 * Upper and lower garment colour of a person box, as colour names of the camera event contract
 * (`COLOURS` in contracts/detection.ts) with a confidence.
 *
 * Method:
 *  1. Regions of the box (x1, y1, x2, y2), w = x2 − x1, h = y2 − y1:
 *       upper (torso): y1 + 0.20h .. y1 + 0.50h, central 50 % of the width (x1 + 0.25w .. x1 + 0.75w)
 *       lower (legs):  y1 + 0.55h .. y1 + 0.90h, central 50 % of the width
 *     clipped to the image. The central strip keeps most of the background beside the body out.
 *  2. Every pixel of a small region; of a larger one `maxSamples` (1200) pixels placed by the R2
 *     low-discrepancy sequence (an even cover that, unlike every k-th row/column, does not alias
 *     with striped or checked cloth).
 *  3. Each pixel: sRGB -> linear (256-entry table) -> XYZ (D65) -> CIELAB; chroma C = √(a² + b²),
 *     hue h = atan2(b, a) in degrees.
 *  4. Each pixel is named by rules on L, C and h (`colourName`):
 *       achromatic (C < 10, or C < 15 when L < 30): black if L < 25, white if L > 82, else grey;
 *       chromatic, by hue sector (CIELAB hue of the sRGB swatches in the header table of the test):
 *         [335°, 42°)  red, or pink when light (L ≥ 55 for h ≥ 335° or h < 15°; L ≥ 65 and C < 50 up to 42°)
 *         [42°, 80°)   orange; brown when dark (L < 55); beige when light and weak (L ≥ 65, C < 35)
 *         [80°, 115°)  yellow; brown when dark (L < 45); beige when light and weak (L ≥ 65, C < 35)
 *         [115°, 190°) green
 *         [190°, 310°) blue (CIELAB puts saturated sRGB blue near 306°)
 *         [310°, 335°) purple
 *  5. The region's colour is the name with most pixels (histogram mode: robust to a bag strap,
 *     a hand or a bit of floor); confidence = that name's share of the region's pixels, scaled
 *     down for regions of fewer than 64 sampled pixels (tiny boxes) — a mixed region (a striped
 *     shirt, a box half on the background) gets a low confidence.
 */
import type { Colour } from "../contracts/detection.ts";

export interface RegionColour {
  value: Colour;
  conf: number;
  /** sampled pixels per name */
  votes: Partial<Record<Colour, number>>;
  /** pixels sampled */
  samples: number;
}

export interface GarmentColours {
  upper: RegionColour;
  lower: RegionColour;
}

export interface GarmentColourOptions {
  /** most pixels sampled per region (default 1200) */
  maxSamples?: number;
}

export type Box = readonly [number, number, number, number];

/** fractions of the box: [x from, x to, y from, y to] */
export const UPPER_REGION = [0.25, 0.75, 0.2, 0.5] as const;
export const LOWER_REGION = [0.25, 0.75, 0.55, 0.9] as const;

const SRGB_TO_LINEAR = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  SRGB_TO_LINEAR[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** the R2 sequence's steps (1/g, 1/g² with g the plastic number 1.3247...) */
const R2_X = 0.7548776662466927;
const R2_Y = 0.5698402909980532;

const labF = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);

/** sRGB bytes -> CIELAB (D65): [L 0..100, a, b] */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const R = SRGB_TO_LINEAR[r & 255]!;
  const G = SRGB_TO_LINEAR[g & 255]!;
  const B = SRGB_TO_LINEAR[b & 255]!;
  const fx = labF((0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047);
  const fy = labF(0.2126729 * R + 0.7151522 * G + 0.072175 * B);
  const fz = labF((0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** The contract colour name of one CIELAB colour (rules in the header). */
export function colourName(L: number, a: number, b: number): Colour {
  const C = Math.hypot(a, b);
  if (C < (L < 30 ? 15 : 10)) return L < 25 ? "black" : L > 82 ? "white" : "grey";
  let h = (Math.atan2(b, a) * 180) / Math.PI;
  if (h < 0) h += 360;
  if (h >= 335 || h < 42) {
    if ((h >= 335 || h < 15) && L >= 55) return "pink";
    if (L >= 65 && C < 50) return "pink";
    return "red";
  }
  if (h < 80) {
    if (L >= 65 && C < 35) return "beige";
    return L < 55 ? "brown" : "orange";
  }
  if (h < 115) {
    if (L >= 65 && C < 35) return "beige";
    return L < 45 ? "brown" : "yellow";
  }
  if (h < 190) return "green";
  if (h < 310) return "blue";
  return "purple";
}

/** Colour of the pixels inside rect [x1, y1, x2, y2) (source pixels, clipped to the image). */
export function regionColour(
  rgb: Uint8Array, width: number, height: number,
  rect: Box, opts: GarmentColourOptions = {},
): RegionColour {
  const x1 = Math.max(0, Math.floor(rect[0]));
  const y1 = Math.max(0, Math.floor(rect[1]));
  const x2 = Math.min(width, Math.ceil(rect[2]));
  const y2 = Math.min(height, Math.ceil(rect[3]));
  const w = x2 - x1;
  const h = y2 - y1;
  const votes: Partial<Record<Colour, number>> = {};
  if (w <= 0 || h <= 0) return { value: "grey", conf: 0, votes, samples: 0 };
  const maxSamples = opts.maxSamples ?? 1200;
  let samples = 0;
  const vote = (x: number, y: number) => {
    const p = (y * width + x) * 3;
    const [L, a, b] = srgbToLab(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!);
    const name = colourName(L, a, b);
    votes[name] = (votes[name] ?? 0) + 1;
    samples++;
  };
  if (w * h <= maxSamples) {
    for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) vote(x, y);
  } else {
    // R2 low-discrepancy points: even cover without a grid's aliasing on stripes and checks
    for (let i = 0; i < maxSamples; i++) {
      const u = (0.5 + i * R2_X) % 1;
      const v = (0.5 + i * R2_Y) % 1;
      vote(x1 + Math.floor(u * w), y1 + Math.floor(v * h));
    }
  }
  let value: Colour = "grey";
  let best = 0;
  for (const [name, n] of Object.entries(votes) as [Colour, number][]) {
    if (n > best) { best = n; value = name; }
  }
  const share = samples > 0 ? best / samples : 0;
  const conf = share * Math.min(1, samples / 64);
  return { value, conf, votes, samples };
}

/** the rect of a region of a box, regions given as fractions [x from, x to, y from, y to] */
export function boxRegion(box: Box, f: readonly [number, number, number, number]): Box {
  const [x1, y1, x2, y2] = box;
  const w = x2 - x1;
  const h = y2 - y1;
  return [x1 + f[0] * w, y1 + f[2] * h, x1 + f[1] * w, y1 + f[3] * h];
}

/** Upper (torso) and lower (legs) garment colour of the person in `box` (source pixels). */
export function garmentColours(
  rgb: Uint8Array, width: number, height: number,
  box: Box, opts: GarmentColourOptions = {},
): GarmentColours {
  if (rgb.length < width * height * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${width * height * 3}`);
  return {
    upper: regionColour(rgb, width, height, boxRegion(box, UPPER_REGION), opts),
    lower: regionColour(rgb, width, height, boxRegion(box, LOWER_REGION), opts),
  };
}
