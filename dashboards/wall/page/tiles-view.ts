import type { WallSpace } from "../../../contracts/wall.ts";
import { occupancyColour, occupancyLevel } from "./colour.ts";
import { h, s, setAttr, setText } from "./dom.ts";
import { countLabel, percentLabel, signed } from "./format.ts";
import type { Frame } from "./frame.ts";

interface TileEls { tile: HTMLDivElement; count: HTMLSpanElement; pct: HTMLSpanElement; bar: HTMLDivElement; cam: HTMLDivElement | null; area: SVGPathElement; line: SVGPolylineElement; capline: SVGLineElement }

/** Columns for n tiles in a w × h area, tiles about as tall as wide times `shape`. */
export function gridColumns(n: number, w: number, hgt: number, shape = 1.25): number {
  if (n <= 0) return 1;
  let best = 1, bestScore = -Infinity;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tw = w / cols, th = hgt / rows;
    // the biggest tile that keeps its shape
    const size = Math.min(tw, th / shape);
    const score = size - (cols * rows - n) * 0.01;
    if (score > bestScore) { best = cols; bestScore = score; }
  }
  return best;
}

/** Sparkline geometry in a 100 × 30 box (pure): points of the values, scaled to their max (and the capacity when near). */
export function sparkGeometry(values: ReadonlyArray<number | null>, capacity: number | null): { points: string; area: string; capY: number | null } {
  const known = values.filter((v): v is number => v !== null);
  const top = Math.max(1, ...known);
  const max = capacity !== null && capacity <= top * 1.6 ? Math.max(top, capacity) * 1.05 : top * 1.15;
  const n = values.length;
  const pts: string[] = [];
  let first: number | null = null;
  values.forEach((v, i) => {
    if (v === null) return;
    const x = n > 1 ? (i / (n - 1)) * 100 : 100;
    if (first === null) first = x;
    pts.push(`${x.toFixed(2)},${(30 - (v / max) * 28).toFixed(2)}`);
  });
  const area = pts.length > 1 ? `M${first!.toFixed(2)},30 L${pts.join(" L")} L100,30 Z` : "";
  return { points: pts.join(" "), area, capY: capacity !== null && capacity <= max ? 30 - (capacity / max) * 28 : null };
}

/**
 * Space tiles: name, count against capacity with a bar, the camera count and its difference
 * where a space has both, and a sparkline of the last hour. The main view of sites without a
 * floor plan, and a strip under the plan of sites with one.
 */
export class TilesView {
  readonly root: HTMLDivElement;
  private readonly tiles = new Map<string, TileEls>();

  constructor(private readonly spaces: readonly WallSpace[], readonly compact: boolean) {
    this.root = h("div", { class: compact ? "tiles strip" : "tiles", "data-testid": compact ? "tiles-strip" : "tiles" });
    for (const sp of spaces) {
      const count = h("span", { class: "count", "data-role": "count" }, "—");
      const pct = h("span", { class: "pct", "data-role": "percent" });
      const bar = h("div");
      // under a plan, the plan and the camera-vs-DPU panel show the camera counts
      const both = !compact && sp.dpu && sp.cameras.length > 0 && sp.polygon !== null;
      const cam = both ? h("div", { class: "cam", "data-role": "camera-count" }, "camera —") : null;
      const area = s("path", { class: "area" });
      const line = s("polyline");
      const capline = s("line", { class: "capline", x1: 0, x2: 100 });
      const spark = s("svg", { class: "spark", viewBox: "0 0 100 30", preserveAspectRatio: "none", "aria-hidden": "true" }, area, capline, line);
      const tile = h("div", { class: "tile", "data-space": sp.id, "data-testid": `tile-${sp.id}` },
        h("div", { class: "name", "data-role": "name", title: sp.name }, sp.name),
        h("div", { class: "figures" }, count, sp.capacity !== null ? h("span", { class: "cap", "data-role": "capacity" }, `/ ${countLabel(sp.capacity)}`) : null),
        h("div", { class: "meter" }, h("div", { class: "bar" }, bar), pct),
        cam,
        spark,
      );
      this.root.appendChild(tile);
      this.tiles.set(sp.id, { tile, count, pct, bar, cam, area, line, capline });
    }
  }

  /** Lays the tiles out for the area they have. */
  layout(w: number, hgt: number): void {
    const n = this.spaces.length;
    // the strip: as few rows as fit tiles at least 7 rem tall
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const cols = this.compact ? Math.ceil(n / Math.max(1, Math.min(n, Math.floor(hgt / (7 * rem))))) : gridColumns(n, w, hgt);
    const rows = Math.ceil(n / cols);
    this.root.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    this.root.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
  }

  render(frame: Frame, sparkOf: (space: string) => ReadonlyArray<number | null>): void {
    for (const sp of this.spaces) {
      const els = this.tiles.get(sp.id)!;
      const f = frame.spaces.get(sp.id);
      const n = f?.shown ?? null;
      const colour = n === null ? "#334155" : occupancyColour(n, sp.capacity);
      els.tile.style.setProperty("--tile-colour", colour);
      setAttr(els.tile, "class", `tile level-${n === null ? "none" : occupancyLevel(n, sp.capacity)}`);
      setText(els.count, countLabel(n));
      setText(els.pct, n === null ? "" : percentLabel(n, sp.capacity));
      const ratio = n !== null && sp.capacity ? Math.min(1, n / sp.capacity) : 0;
      els.bar.style.width = `${(ratio * 100).toFixed(1)}%`;
      if (els.cam) setText(els.cam, f?.camera == null ? "camera —" : f.dpu == null ? `camera ${countLabel(f.camera)}` : `camera ${countLabel(f.camera)} · Δ ${signed(f.camera - f.dpu)}`);
      const g = sparkGeometry(sparkOf(sp.id), sp.capacity);
      setAttr(els.line, "points", g.points);
      setAttr(els.area, "d", g.area || null);
      if (g.capY === null) setAttr(els.capline, "visibility", "hidden");
      else { setAttr(els.capline, "visibility", null); setAttr(els.capline, "y1", g.capY.toFixed(2)); setAttr(els.capline, "y2", g.capY.toFixed(2)); }
    }
  }
}
