import uPlot from "uplot";
import { h, setText } from "./dom.ts";
import { clockHm, countLabel } from "./format.ts";
import { usualAt, type UsualHour } from "./series.ts";

/** Chart samples every 15 s over the hour. */
export const CHART_STEP_MS = 15_000;

export interface ChartData {
  /** window end (epoch ms); the window is the hour before it */
  to: number;
  /** occupancy on the grid to - 1 h, ..., to */
  values: ReadonlyArray<number | null>;
  usual: readonly UsualHour[];
  capacity: number | null;
}

/** uPlot's aligned columns for the chart (pure): x (s), p10, p90, median, capacity, occupancy; capacity only when on the scale. */
export function chartColumns(d: ChartData): { columns: Array<Array<number | null>>; capacityShown: boolean; max: number } {
  const from = d.to - (d.values.length - 1) * CHART_STEP_MS;
  const xs: number[] = [], p10: Array<number | null> = [], p90: Array<number | null> = [], med: Array<number | null> = [];
  for (let i = 0; i < d.values.length; i++) {
    const t = from + i * CHART_STEP_MS;
    xs.push(t / 1000);
    const u = usualAt(d.usual, t);
    p10.push(u?.p10 ?? null);
    p90.push(u?.p90 ?? null);
    med.push(u?.median ?? null);
  }
  const known = [...d.values, ...p90].filter((v): v is number => v !== null);
  const top = Math.max(4, ...known);
  const capacityShown = d.capacity !== null && d.capacity <= top * 2.5;
  const max = Math.max(top, capacityShown ? d.capacity! : 0) * 1.12;
  const cap = d.values.map(() => (capacityShown ? d.capacity : null));
  return { columns: [xs, p10, p90, med, cap, [...d.values]], capacityShown, max };
}

/**
 * One uPlot chart: the site's occupancy over the last hour (stepped), the usual for this weekday
 * and hour (median dashed, p10–p90 band) and the capacity line.
 */
export class ChartView {
  readonly root: HTMLElement;
  private readonly host: HTMLDivElement;
  private readonly vs: HTMLDivElement;
  private readonly title: HTMLSpanElement;
  private readonly capNote: HTMLSpanElement;
  private chart: uPlot | undefined;
  private max = 10;
  private last: ChartData | undefined;

  constructor() {
    this.host = h("div", { class: "chart-host" });
    this.vs = h("div", { class: "vs", "data-testid": "now-vs-usual" }, "—");
    this.title = h("span", { class: "aside" });
    this.capNote = h("span");
    this.root = h("section", { class: "panel chart-panel", "data-testid": "occupancy-chart" },
      h("h2", {}, "Occupancy · last hour", this.title),
      this.vs,
      this.host,
      h("div", { class: "chart-legend" },
        h("span", {}, legendLine("#38bdf8"), "now"),
        h("span", {}, legendLine("#cbd5e1", true), "usual"),
        h("span", {}, h("i", { class: "band" }), "p10–p90"),
        h("span", {}, legendLine("#ef4444", true), this.capNote),
      ),
    );
    setText(this.capNote, "capacity");
  }

  /** Builds the chart once the panel has its size (call after it is in the document). */
  mount(width: number, height: number): void {
    const axis = { stroke: "#93a1b0", grid: { stroke: "#1f2a36", width: 1 }, ticks: { stroke: "#243140", width: 1 }, font: "15px Liberation Sans, DejaVu Sans, sans-serif" };
    const opts: uPlot.Options = {
      width, height,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true }, y: { range: () => [0, this.max] } },
      axes: [
        { ...axis, values: (_u, splits) => splits.map((v) => clockHm(v * 1000)) },
        { ...axis, size: 56, values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? countLabel(v) : "")) },
      ],
      series: [
        {},
        { label: "p10", stroke: "transparent", points: { show: false } },
        { label: "p90", stroke: "transparent", points: { show: false } },
        { label: "usual", stroke: "#cbd5e1", width: 2, dash: [8, 6], points: { show: false } },
        { label: "capacity", stroke: "#ef4444", width: 2, dash: [5, 5], points: { show: false } },
        { label: "now", stroke: "#38bdf8", width: 3.5, fill: "rgba(56,189,248,0.14)", points: { show: false }, paths: uPlot.paths.stepped!({ align: 1 }) },
      ],
      bands: [{ series: [2, 1], fill: "rgba(148,163,184,0.26)" }],
    };
    this.chart?.destroy();
    this.chart = new uPlot(opts, [[], [], [], [], [], []], this.host);
    if (this.last) this.update(this.last);
  }

  /** Removes the chart (before the panel is measured again). */
  unmount(): void {
    this.chart?.destroy();
    this.chart = undefined;
  }

  update(d: ChartData, label?: string): void {
    this.last = d;
    const { columns, capacityShown, max } = chartColumns(d);
    this.max = max;
    this.chart?.setData(columns as uPlot.AlignedData);
    setText(this.title, label ?? `until ${clockHm(d.to)}`);
    setText(this.capNote, d.capacity === null ? "capacity" : capacityShown ? `capacity ${countLabel(d.capacity)}` : `capacity ${countLabel(d.capacity)} (off scale)`);
    const now = [...d.values].reverse().find((v) => v !== null) ?? null;
    const u = usualAt(d.usual, d.to);
    this.vs.replaceChildren();
    this.vs.append(h("span", {}, "Now "), h("strong", {}, countLabel(now)));
    if (u && now !== null) {
      const diff = now - u.median;
      const pct = u.median > 0 ? Math.round((100 * diff) / u.median) : null;
      const word = Math.abs(diff) < 0.5 ? "as usual" : diff > 0 ? "above usual" : "below usual";
      this.vs.append(
        h("span", {}, ` · usual ${countLabel(u.median)} (${countLabel(u.p10)}–${countLabel(u.p90)}) · `),
        h("span", { class: diff > 0.5 ? "up" : diff < -0.5 ? "down" : "" }, pct === null || Math.abs(diff) < 0.5 ? word : `${pct > 0 ? "+" : ""}${pct} % ${word}`),
      );
    } else {
      this.vs.append(h("span", {}, " · usual not known yet"));
    }
  }
}

function legendLine(colour: string, dashed = false): HTMLElement {
  const el = h("i");
  el.style.background = dashed ? `repeating-linear-gradient(90deg, ${colour} 0 0.45rem, transparent 0.45rem 0.7rem)` : colour;
  return el;
}
