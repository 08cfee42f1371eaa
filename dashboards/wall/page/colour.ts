/** Colours of the wall (pure): occupancy against capacity, garment colours, device health. */

export type Rgb = [number, number, number];

/** Occupancy ratio (count / capacity) -> fill: calm blue, green, amber near capacity, red over it. */
export const OCCUPANCY_STOPS: ReadonlyArray<readonly [ratio: number, rgb: Rgb]> = [
  [0, [22, 48, 72]],
  [0.5, [27, 122, 90]],
  [0.8, [201, 162, 39]],
  [1, [217, 83, 79]],
  [1.25, [255, 45, 85]],
];

/** Fill of a space without a capacity: neutral slate. */
export const NO_CAPACITY: Rgb = [52, 65, 85];

export const hex = (c: Rgb) => `#${c.map((v) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, "0")).join("")}`;

export function occupancyRatio(count: number, capacity: number | null | undefined): number | null {
  return capacity && capacity > 0 ? Math.max(0, count) / capacity : null;
}

/** Interpolated fill for a ratio (null: no capacity). */
export function occupancyRgb(ratio: number | null): Rgb {
  if (ratio === null || !Number.isFinite(ratio)) return NO_CAPACITY;
  const stops = OCCUPANCY_STOPS;
  if (ratio <= stops[0]![0]) return [...stops[0]![1]];
  for (let i = 1; i < stops.length; i++) {
    const [r1, c1] = stops[i]!;
    if (ratio <= r1) {
      const [r0, c0] = stops[i - 1]!;
      const f = (ratio - r0) / (r1 - r0);
      return [c0[0] + (c1[0] - c0[0]) * f, c0[1] + (c1[1] - c0[1]) * f, c0[2] + (c1[2] - c0[2]) * f];
    }
  }
  return [...stops[stops.length - 1]![1]];
}

export const occupancyColour = (count: number, capacity: number | null | undefined) => hex(occupancyRgb(occupancyRatio(count, capacity)));

/** A word for the level, also a CSS class: "free" < 50 %, "busy" < 80 %, "near" <= 100 %, "over" above. */
export type OccupancyLevel = "none" | "free" | "busy" | "near" | "over";
export function occupancyLevel(count: number, capacity: number | null | undefined): OccupancyLevel {
  const r = occupancyRatio(count, capacity);
  if (r === null) return "none";
  return r > 1 ? "over" : r >= 0.8 ? "near" : r >= 0.5 ? "busy" : "free";
}

/** Relative luminance (WCAG). */
export function luminance(c: Rgb): number {
  const lin = (v: number) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** WCAG contrast ratio of two colours. */
export function contrast(a: Rgb, b: Rgb): number {
  const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (l1 + 0.05) / (l2 + 0.05);
}

/** The colours footfall's attribute extractor names (api/openapi.yaml Colour), as drawn on a dark background. */
export const GARMENT: Readonly<Record<string, string>> = {
  black: "#1b1b1f",
  white: "#f4f4f5",
  grey: "#9ca3af",
  red: "#ef4444",
  orange: "#f97316",
  yellow: "#facc15",
  green: "#22c55e",
  blue: "#3b82f6",
  purple: "#a855f7",
  pink: "#f472b6",
  brown: "#a16207",
  beige: "#e7d7b1",
};
export const GARMENT_UNKNOWN = "#64748b";
export const GARMENT_COLOURS = Object.keys(GARMENT);

/** Dot colour of a person by the upper garment's value (unknown values: slate). */
export function garmentColour(value: string | undefined | null): string {
  return (value && GARMENT[value]) || GARMENT_UNKNOWN;
}

/** Outline of a dot: light around dark garments, dark around light ones, so every dot stands out. */
export function garmentOutline(value: string | undefined | null): string {
  return value === "black" || value === "brown" || value === "purple" || value === "blue" ? "#e5e7eb" : "#0b0f14";
}

export type Health = "online" | "offline" | "silent" | "unknown";
export const HEALTH: Readonly<Record<Health, string>> = {
  online: "#22c55e",
  silent: "#f59e0b",
  offline: "#ef4444",
  unknown: "#64748b",
};
export const healthColour = (state: string | undefined) => HEALTH[(state ?? "unknown") as Health] ?? HEALTH.unknown;
