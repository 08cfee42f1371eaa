import type { WallPlan } from "../../../contracts/wall.ts";
import { garmentColour, garmentOutline, healthColour, occupancyColour, occupancyLevel } from "./colour.ts";
import { h, s, setAttr, setText, clear } from "./dom.ts";
import { countLabel, signed } from "./format.ts";
import type { Frame } from "./frame.ts";
import { boundsOf, centroid, labelSizes, round, svgPoints, viewBoxOf, type Pt } from "./plan-geometry.ts";
import type { PathItem } from "./rest.ts";

interface SpaceEls { shape: SVGPolygonElement; count: SVGTSpanElement; cap: SVGTSpanElement | null; cam: SVGTextElement | null; camSpan: SVGTSpanElement | null }
interface PersonEls { g: SVGGElement; dot: SVGCircleElement; trail: SVGPolylineElement; upper: string | undefined }

const DOT_R = 0.6;

/**
 * The floor plan as SVG in metres (north up): each space filled by its occupancy against its
 * capacity with its name and count (drawn over everything else, with a dark halo, so the counts
 * stay readable under a crowd), the cameras where they look from (coloured by health), the
 * people as dots coloured by their upper garment with short trails, and the path explorer's paths.
 */
export class PlanView {
  readonly root: HTMLDivElement;
  /** height / width of the drawing */
  readonly aspect: number;
  private readonly spaces = new Map<string, SpaceEls>();
  private readonly people = new Map<string, PersonEls>();
  private readonly cameraMarks = new Map<string, SVGCircleElement>();
  private readonly layers: Record<"spaces" | "views" | "paths" | "trails" | "people" | "labels" | "cameras", SVGGElement>;
  private readonly note: HTMLDivElement;

  constructor(private readonly plan: WallPlan) {
    const drawn = plan.spaces.filter((sp) => sp.polygon && sp.polygon.length >= 3);
    const pts: Pt[] = drawn.flatMap((sp) => sp.polygon as Pt[]);
    for (const c of plan.cameras) if (c.at) pts.push(c.at as Pt);
    const b = boundsOf(pts) ?? { minX: 0, minY: 0, maxX: 10, maxY: 10 };
    const span = Math.max(b.maxX - b.minX, b.maxY - b.minY);
    const vb = viewBoxOf(b, Math.max(1, span * 0.015));
    this.aspect = vb.h / vb.w;

    const layer = (name: string) => s("g", { class: name });
    this.layers = {
      spaces: layer("spaces"), views: layer("camera-views"), paths: layer("paths"), labels: layer("labels"),
      trails: layer("trails"), people: layer("people"), cameras: layer("cameras"),
    };
    const svg = s("svg", {
      class: "plan", viewBox: `${round(vb.x)} ${round(vb.y)} ${round(vb.w)} ${round(vb.h)}`, preserveAspectRatio: "xMidYMid meet",
      role: "img", "aria-label": `floor plan of ${plan.site}`,
    }, this.layers.spaces, this.layers.views, this.layers.paths, this.layers.cameras, this.layers.trails, this.layers.people, this.layers.labels);

    for (const sp of drawn) {
      const poly = sp.polygon as Pt[];
      const shape = s("polygon", { class: "space-shape", points: svgPoints(poly), "stroke-width": round(Math.max(0.08, span * 0.002)) });
      shape.appendChild(s("title", {}, sp.name));
      const g = s("g", { "data-space": sp.id }, shape);
      this.layers.spaces.appendChild(g);

      const pb = boundsOf(poly)!;
      const [cx, cy] = centroid(poly);
      const sizes = labelSizes(pb.maxX - pb.minX, pb.maxY - pb.minY, sp.name);
      const both = sp.dpu && sp.cameras.length > 0;
      const label = s("g", { "data-space": sp.id, "data-testid": `plan-space-${sp.id}` });
      const count = s("tspan", { class: "space-count", "data-role": "count", "font-size": round(sizes.count) }, "—");
      const cap = sp.capacity !== null ? s("tspan", { class: "space-cap", "data-role": "capacity", "font-size": round(sizes.count * 0.36), dx: round(sizes.count * 0.12) }, `/ ${countLabel(sp.capacity)}`) : null;
      let cam: SVGTextElement | null = null, camSpan: SVGTSpanElement | null = null;
      const camSize = sizes.row ? sizes.name : sizes.count * 0.34;
      if (sizes.row) {
        // one line: name, count / capacity, camera count
        const nameSpan = s("tspan", { class: "space-name", "data-role": "name", "font-size": round(sizes.name) }, sp.name);
        const line = s("text", { x: round(cx), y: round(-cy + sizes.count * 0.36), "text-anchor": "middle", "stroke-width": round(sizes.name * 0.2) }, nameSpan, s("tspan", { dx: round(sizes.name * 0.6) }), count, cap);
        if (both) {
          camSpan = s("tspan", { "data-role": "camera-count" }, "—");
          line.append(s("tspan", { class: "space-cam", "font-size": round(camSize), dx: round(sizes.name * 0.8) }, "camera ", camSpan));
        }
        label.append(line);
      } else {
        const nameH = sizes.nameLines.length * sizes.name * 1.15;
        const blockH = nameH + sizes.count * 0.95 + (both ? camSize * 1.3 : 0);
        let y = -cy - blockH / 2;
        const name = s("text", { class: "space-name", "data-role": "name", x: round(cx), "text-anchor": "middle", "font-size": round(sizes.name), "stroke-width": round(sizes.name * 0.18) });
        sizes.nameLines.forEach((line, i) => {
          y += sizes.name * 1.15;
          // the space the name was split at stays in the text (textContent is the whole name)
          name.appendChild(s("tspan", { x: round(cx), y: round(y - sizes.name * 0.2) }, i < sizes.nameLines.length - 1 ? `${line} ` : line));
        });
        y += sizes.count * 0.95;
        const countText = s("text", { x: round(cx), y: round(y - sizes.count * 0.1), "text-anchor": "middle", "stroke-width": round(sizes.count * 0.12) }, count, cap);
        label.append(name, countText);
        if (both) {
          y += camSize * 1.3;
          camSpan = s("tspan", { "data-role": "camera-count" }, "—");
          cam = s("text", { class: "space-cam", x: round(cx), y: round(y - camSize * 0.2), "text-anchor": "middle", "font-size": round(camSize), "stroke-width": round(camSize * 0.15) }, "camera ", camSpan);
          label.appendChild(cam);
        }
      }
      this.layers.labels.appendChild(label);
      this.spaces.set(sp.id, { shape, count, cap, cam, camSpan });
    }

    const markR = Math.max(0.45, span * 0.006);
    for (const c of plan.cameras) {
      if (c.view) this.layers.views.appendChild(s("polygon", { class: "camera-view", points: svgPoints(c.view as Pt[]), "stroke-width": round(markR * 0.1) }));
      if (!c.at) continue;
      const [x, y] = c.at;
      const g = s("g", { "data-camera": c.id });
      if (c.heading) {
        const [hx, hy] = c.heading;
        g.appendChild(s("line", { x1: round(x), y1: round(-y), x2: round(x + hx * markR * 2.6), y2: round(-(y + hy * markR * 2.6)), stroke: "#e2e8f0", "stroke-width": round(markR * 0.35), "stroke-linecap": "round" }));
      }
      const mark = s("circle", { class: "camera-mark", cx: round(x), cy: round(-y), r: round(markR), fill: healthColour("unknown"), "stroke-width": round(markR * 0.3), "data-role": "camera-health", "data-state": "unknown" });
      mark.appendChild(s("title", {}, c.id));
      g.appendChild(mark);
      this.layers.cameras.appendChild(g);
      this.cameraMarks.set(c.id, mark);
    }

    this.note = h("div", { class: "plan-note" });
    const legend = h("div", { class: "plan-legend" },
      ...[["0 %", occupancyColour(0, 100)], ["50 %", occupancyColour(50, 100)], ["80 %", occupancyColour(80, 100)], ["full", occupancyColour(100, 100)], ["over", occupancyColour(125, 100)]]
        .map(([t, c]) => h("span", {}, swatch(c!), t!)),
      ...(plan.cameras.length > 0 ? [h("span", {}, dot(healthColour("online")), "camera online"), h("span", {}, dot(healthColour("silent")), "silent"), h("span", {}, dot(healthColour("offline")), "offline")] : []),
    );
    legend.append(h("span", { class: "gap" }), this.note);
    this.root = h("div", { class: "plan-box", "data-testid": "plan" }, svg, legend);
  }

  render(frame: Frame): void {
    for (const sp of this.plan.spaces) {
      const els = this.spaces.get(sp.id);
      const f = frame.spaces.get(sp.id);
      if (!els || !f) continue;
      const n = f.shown;
      setAttr(els.shape, "fill", n === null ? "#1e293b" : occupancyColour(n, sp.capacity));
      setAttr(els.shape, "class", `space-shape level-${n === null ? "none" : occupancyLevel(n, sp.capacity)}`);
      setText(els.count, countLabel(n));
      if (els.camSpan) setText(els.camSpan, f.camera === null ? "—" : f.dpu === null ? countLabel(f.camera) : `${countLabel(f.camera)} (Δ ${signed(f.camera - f.dpu)})`);
    }
    this.renderPeople(frame);
  }

  private renderPeople(frame: Frame): void {
    const seen = new Set<string>();
    for (const p of frame.people) {
      seen.add(p.id);
      let els = this.people.get(p.id);
      if (!els) {
        const trail = s("polyline", { class: "trail", "stroke-width": 0.26 });
        const dot = s("circle", { r: DOT_R, "stroke-width": 0.14 });
        const g = s("g", { class: "person", "data-person": p.id }, dot);
        this.layers.trails.appendChild(trail);
        this.layers.people.appendChild(g);
        els = { g, dot, trail, upper: undefined };
        this.people.set(p.id, els);
      }
      if (els.upper !== p.upper || !els.dot.hasAttribute("fill")) {
        els.upper = p.upper;
        setAttr(els.dot, "fill", garmentColour(p.upper));
        setAttr(els.dot, "stroke", garmentOutline(p.upper));
        setAttr(els.trail, "stroke", garmentColour(p.upper));
        setAttr(els.g, "data-upper", p.upper ?? "unknown");
      }
      setAttr(els.dot, "cx", round(p.x));
      setAttr(els.dot, "cy", round(-p.y));
      setAttr(els.trail, "points", p.trail.length > 1 ? svgPoints(p.trail) : "");
      setAttr(els.g, "class", p.ended ? "person ended" : "person");
    }
    for (const [id, els] of this.people) {
      if (seen.has(id)) continue;
      els.g.remove();
      els.trail.remove();
      this.people.delete(id);
    }
    setText(this.note, frame.people.length > 0 ? `${frame.people.length} ${frame.people.length === 1 ? "person" : "people"} tracked by cameras` : "");
  }

  renderCameras(stateOf: (camera: string) => string | undefined): void {
    for (const [id, mark] of this.cameraMarks) {
      const st = stateOf(id) ?? "unknown";
      setAttr(mark, "fill", healthColour(st));
      setAttr(mark, "data-state", st);
    }
  }

  /** The path explorer's paths (null clears them). */
  showPaths(items: readonly PathItem[] | null): void {
    clear(this.layers.paths);
    if (!items) return;
    for (const it of items) {
      if (it.path.length < 2) continue;
      const colour = garmentColour(it.attributes.upper?.value);
      const pts = it.path.map((p) => [p[1], p[2]] as const);
      const g = s("g", { "data-path": it.person },
        s("polyline", { class: "path-line", points: svgPoints(pts), stroke: colour, "stroke-width": 0.28 }),
        s("circle", { cx: round(pts[0]![0]), cy: round(-pts[0]![1]), r: 0.35, fill: colour }),
        s("circle", { cx: round(pts[pts.length - 1]![0]), cy: round(-pts[pts.length - 1]![1]), r: 0.55, fill: "none", stroke: colour, "stroke-width": 0.2 }),
      );
      g.appendChild(s("title", {}, `${it.person}: ${Math.round(it.distance_m)} m`));
      this.layers.paths.appendChild(g);
    }
  }
}

function swatch(colour: string): HTMLSpanElement {
  const el = h("span", { class: "swatch" });
  el.style.background = colour;
  return el;
}

function dot(colour: string): HTMLSpanElement {
  const el = h("span", { class: "cam" });
  el.style.background = colour;
  return el;
}
