/** Geometry of the floor plan drawing (pure). Floor metres: x east, y north; SVG: y down, so y is negated. */
export type Pt = readonly [number, number];

export interface Box { minX: number; minY: number; maxX: number; maxY: number }

export function boundsOf(points: Iterable<Pt>): Box | undefined {
  let b: Box | undefined;
  for (const [x, y] of points) {
    if (!b) b = { minX: x, minY: y, maxX: x, maxY: y };
    else { b.minX = Math.min(b.minX, x); b.minY = Math.min(b.minY, y); b.maxX = Math.max(b.maxX, x); b.maxY = Math.max(b.maxY, y); }
  }
  return b;
}

/** The SVG viewBox of floor bounds with a margin (metres): y negated, so north is up. */
export function viewBoxOf(b: Box, margin: number): { x: number; y: number; w: number; h: number } {
  return { x: b.minX - margin, y: -b.maxY - margin, w: b.maxX - b.minX + 2 * margin, h: b.maxY - b.minY + 2 * margin };
}

/** Area-weighted centroid of a simple polygon (the vertex mean for degenerate ones). */
export function centroid(poly: readonly Pt[]): [number, number] {
  let a = 0, cx = 0, cy = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [x0, y0] = poly[j]!, [x1, y1] = poly[i]!;
    const f = x0 * y1 - x1 * y0;
    a += f; cx += (x0 + x1) * f; cy += (y0 + y1) * f;
  }
  if (Math.abs(a) < 1e-9) {
    return [poly.reduce((s, p) => s + p[0], 0) / poly.length, poly.reduce((s, p) => s + p[1], 0) / poly.length];
  }
  return [cx / (3 * a), cy / (3 * a)];
}

/** Average width of a glyph in em, for fitting text without measuring it. */
export const GLYPH_EM = 0.56;

/**
 * Font sizes (metres) for a space's label block in a box w × h: the count as large as fits (at
 * most maxCount), the name at most 40 % of it and fitted to the width, on two lines when one
 * line would shrink it below three quarters of that.
 */
export function labelSizes(w: number, h: number, name: string, maxCount = 6): { row: boolean; count: number; name: number; nameLines: string[] } {
  if (w >= 2.5 * h) {
    // a wide, low space (a corridor): name and count side by side on one line
    const count = Math.max(0.6, Math.min(h * 0.55, maxCount));
    return { row: true, count, name: Math.min(count * 0.5, (w * 0.4) / Math.max(1, name.length * GLYPH_EM)), nameLines: [name] };
  }
  const count = Math.max(0.6, Math.min(h * 0.42, w * 0.32, maxCount));
  const nameMax = count * 0.4;
  const fit = (text: string) => (w * 0.9) / Math.max(1, text.length * GLYPH_EM);
  const one = fit(name);
  const cut = nearestSpace(name);
  if (one >= nameMax * 0.75 || cut < 0) return { row: false, count, name: Math.min(nameMax, one), nameLines: [name] };
  const lines = [name.slice(0, cut), name.slice(cut + 1)];
  return { row: false, count, name: Math.min(nameMax, ...lines.map(fit)), nameLines: lines };
}

function nearestSpace(text: string): number {
  const mid = text.length / 2;
  let cut = -1;
  for (let i = 0; i < text.length; i++) if (text[i] === " " && (cut < 0 || Math.abs(i - mid) < Math.abs(cut - mid))) cut = i;
  return cut;
}

export const svgPoints = (pts: readonly Pt[]) => pts.map(([x, y]) => `${round(x)},${round(-y)}`).join(" ");
export const round = (v: number) => Math.round(v * 100) / 100;
