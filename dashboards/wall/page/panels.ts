import type { WallSpace } from "../../../contracts/wall.ts";
import { occupancyColour, occupancyLevel } from "./colour.ts";
import { h, setAttr, setText } from "./dom.ts";
import { agoLabel, clock, countLabel, rateLabel, signed } from "./format.ts";
import type { Frame } from "./frame.ts";
import type { LiveState } from "./live.ts";

/** The header: site, total, in/out of the last hour, ingest rate, connection state and clock. */
export class Header {
  readonly root: HTMLElement;
  private readonly total: HTMLSpanElement;
  private readonly totalSub: HTMLElement;
  private readonly flowIn: HTMLSpanElement;
  private readonly flowOut: HTMLSpanElement;
  private readonly ingest: HTMLSpanElement;
  private readonly pill: HTMLSpanElement;
  private readonly flowBoxes: HTMLElement[];
  private readonly over: HTMLSpanElement;
  private readonly overSub: HTMLElement;
  private readonly ingestBox: HTMLElement;
  private readonly clockEl: HTMLDivElement;
  private readonly sub: HTMLDivElement;

  constructor(site: string, subtitle: string) {
    this.total = h("span", { "data-testid": "site-total" }, "—");
    this.totalSub = h("small");
    this.flowIn = h("span", { "data-testid": "flow-in" }, "—");
    this.flowOut = h("span", { "data-testid": "flow-out" }, "—");
    this.ingest = h("span", { "data-testid": "ingest-rate" }, "—");
    this.pill = h("span", { class: "pill", "data-testid": "live-state", "data-state": "connecting" }, "CONNECTING");
    this.clockEl = h("div", { class: "clock", "data-testid": "clock" });
    this.sub = h("div", { class: "sub" }, subtitle);
    const kpi = (label: string, value: HTMLElement, cls = "", extra?: HTMLElement) =>
      h("div", { class: `kpi ${cls}` }, h("div", { class: "label" }, label), h("div", { class: "value" }, value, extra));
    this.flowBoxes = [kpi("In · last hour", this.flowIn), kpi("Out · last hour", this.flowOut)];
    this.over = h("span", { "data-testid": "over-capacity" }, "—");
    this.overSub = h("small");
    this.ingestBox = kpi("Ingest", this.ingest, "", h("small", {}, "msg/s"));
    this.root = h("header", { class: "top" },
      h("div", { class: "brand" }, h("div", { class: "site", "data-testid": "site-id" }, site), this.sub),
      kpi("People inside", this.total, "total", this.totalSub),
      kpi("Over capacity", this.over, "over", this.overSub),
      ...this.flowBoxes,
      this.ingestBox,
      h("div", { class: "status" }, this.clockEl, this.pill),
    );
  }

  setTotal(n: number | null, capacity: number | null, at: string): void {
    setText(this.total, countLabel(n));
    setText(this.totalSub, capacity ? `/ ${countLabel(capacity)}` : "");
    setAttr(this.total.parentElement!, "class", `value level-${n === null ? "none" : occupancyLevel(n, capacity)}`);
    setText(this.sub, at);
  }

  /** How many spaces are over their capacity, and the first of them. */
  setOver(names: readonly string[]): void {
    setText(this.over, String(names.length));
    setText(this.overSub, names.length === 0 ? "spaces" : names.length === 1 ? names[0]! : `${names[0]!} +${names.length - 1}`);
    setAttr(this.over.parentElement!, "class", names.length > 0 ? "value level-over" : "value");
  }

  /** In and out of the last hour; "absent": this API has no flow route, the boxes go. */
  setFlow(flow: { in: number; out: number } | null | "absent"): void {
    for (const b of this.flowBoxes) b.hidden = flow === "absent";
    const f = flow === "absent" ? null : flow;
    setText(this.flowIn, f ? countLabel(f.in) : "—");
    setText(this.flowOut, f ? countLabel(f.out) : "—");
  }

  /** Device messages per second; shown once the live feed (which carries the brokers' rates) is up. */
  setIngest(perSecond: number | null, shown: boolean): void {
    this.ingestBox.hidden = !shown;
    setText(this.ingest, rateLabel(perSecond ?? (shown ? 0 : null)));
  }

  setClock(now: number): void {
    setText(this.clockEl, clock(now));
  }

  setState(state: LiveState | "polling" | "offline" | "history", text: string): void {
    setAttr(this.pill, "data-state", state);
    setText(this.pill, text);
  }
}

/** "stale since hh:mm:ss": shown while neither the live feed nor the API answers. */
export class StaleBanner {
  readonly root: HTMLDivElement;
  private readonly text: HTMLSpanElement;
  private readonly detail: HTMLSpanElement;
  constructor() {
    this.text = h("span", { "data-role": "since" });
    this.detail = h("span", { class: "detail" });
    this.root = h("div", { class: "stale-banner", "data-testid": "stale-banner", role: "status", hidden: true }, this.text, this.detail);
  }
  show(since: number | null, detail: string): void {
    setText(this.text, since === null ? "no data yet" : `stale since ${clock(since)}`);
    setText(this.detail, detail);
    this.root.hidden = false;
  }
  hide(): void {
    this.root.hidden = true;
  }
  get shown(): boolean {
    return !this.root.hidden;
  }
}

/**
 * Hides the rows that do not fit their list (a wall never scrolls); the list's last child is a
 * "+ N more" note, shown in place of the last rows when some are left out.
 */
export function fitRows(list: HTMLElement, more: HTMLElement): void {
  const rows = ([...list.children] as HTMLElement[]).filter((r) => r !== more);
  for (const r of rows) r.hidden = false;
  more.hidden = true;
  const bottom = list.getBoundingClientRect().bottom + 1;
  if (rows.length === 0 || rows[rows.length - 1]!.getBoundingClientRect().bottom <= bottom) return;
  more.hidden = false;
  let shown = rows.length;
  while (shown > 1 && more.getBoundingClientRect().bottom > bottom) rows[--shown]!.hidden = true;
  setText(more, `+ ${rows.length - shown} more`);
}

/** Where a space has DPUs and cameras: both counts and their difference, the largest differences first. */
export class ComparePanel {
  readonly root: HTMLElement;
  private readonly rows: HTMLDivElement;
  private readonly quality: HTMLSpanElement;
  private readonly more = h("div", { class: "more", hidden: true });
  constructor(private readonly spaces: readonly WallSpace[]) {
    this.rows = h("div", { class: "rows" });
    this.quality = h("span", { class: "aside", "data-role": "mean-difference" });
    this.root = h("section", { class: "panel list-panel", "data-testid": "camera-vs-dpu" },
      h("h2", {}, "Camera vs DPU", this.quality),
      this.rows,
    );
  }

  render(frame: Frame): void {
    const rows = this.spaces.map((sp) => {
      const f = frame.spaces.get(sp.id);
      const diff = f?.camera != null && f?.dpu != null ? f.camera - f.dpu : null;
      return { sp, f, diff };
    }).sort((a, b) => Math.abs(b.diff ?? 0) - Math.abs(a.diff ?? 0) || a.sp.name.localeCompare(b.sp.name));
    this.rows.replaceChildren(
      h("div", { class: "row compare head" }, h("span", { class: "name" }, "space"), h("span", {}, "DPU"), h("span", {}, "camera"), h("span", {}, "Δ")),
      ...rows.map(({ sp, f, diff }) => h("div", { class: "row compare", "data-space": sp.id },
        h("span", { class: "name" }, sp.name),
        h("span", { class: "nums", "data-role": "dpu" }, countLabel(f?.dpu)),
        h("span", { class: "nums", "data-role": "camera" }, countLabel(f?.camera)),
        h("span", { class: `nums ${diff !== null && Math.abs(diff) >= 3 ? "diff-bad" : ""}`, "data-role": "difference" }, diff === null ? "—" : signed(diff)),
      )),
      this.more,
    );
    fitRows(this.rows, this.more);
  }

  /** mean |camera − DPU| over the last hour, over the spaces that have both (from the camera-vs-dpu route) */
  setQuality(meanAbs: number | null): void {
    setText(this.quality, meanAbs === null ? "" : `mean |Δ| last hour ${meanAbs.toFixed(1)}`);
  }
}

/** The fullest spaces now, against their capacity. */
export class BusiestPanel {
  readonly root: HTMLElement;
  private readonly rows: HTMLDivElement;
  private readonly more = h("div", { class: "more", hidden: true });
  constructor(private readonly spaces: readonly WallSpace[]) {
    this.rows = h("div", { class: "rows" });
    this.root = h("section", { class: "panel list-panel", "data-testid": "busiest" }, h("h2", {}, "Fullest spaces", h("span", { class: "aside" }, "now")), this.rows);
  }

  render(frame: Frame): void {
    const ranked = this.spaces.map((sp) => {
      const n = frame.spaces.get(sp.id)?.shown ?? null;
      return { sp, n, ratio: n !== null && sp.capacity ? n / sp.capacity : -1 };
    }).sort((a, b) => b.ratio - a.ratio || (b.n ?? 0) - (a.n ?? 0));
    this.rows.replaceChildren(...ranked.map(({ sp, n, ratio }) => {
      const meter = h("div");
      meter.style.width = `${Math.max(0, Math.min(1, ratio)) * 100}%`;
      meter.style.background = n === null ? "#334155" : occupancyColour(n, sp.capacity);
      return h("div", { class: "row", "data-space": sp.id },
        h("span", { class: "name" }, sp.name),
        h("span", { class: "nums" }, countLabel(n), sp.capacity ? h("span", { class: "muted" }, ` / ${countLabel(sp.capacity)}`) : null),
        h("div", { class: "meter" }, meter),
      );
    }), this.more);
    fitRows(this.rows, this.more);
  }
}

export interface TickerItem { space: string; name: string; state: "over" | "cleared"; count: number; capacity: number; at: number; open: boolean }

/** The alerts ticker: spaces over capacity now, then the newest alerts. */
export class Ticker {
  readonly root: HTMLDivElement;
  private readonly items: HTMLDivElement;
  constructor() {
    this.items = h("div", { class: "items", "data-role": "items" });
    this.root = h("div", { class: "ticker", "data-testid": "alerts-ticker" }, h("span", { class: "tag" }, "Alerts"), this.items);
  }

  render(items: readonly TickerItem[], now: number): void {
    if (items.length === 0) {
      this.items.replaceChildren(h("span", { class: "item" }, h("span", { class: "t" }, "No capacity alerts")));
      return;
    }
    const parts: Node[] = [];
    items.slice(0, 8).forEach((it, i) => {
      if (i > 0) parts.push(h("span", { class: "sep" }, " · "));
      const what = it.state === "over" ? "over capacity" : "back under capacity";
      parts.push(h("span", { class: `item ${it.open ? "over" : it.state}`, "data-space": it.space },
        h("span", { class: "t" }, it.open ? agoLabel(it.at, now) === "now" ? "now" : `since ${clock(it.at).slice(0, 5)}` : clock(it.at)),
        h("span", {}, it.name),
        h("span", {}, `${what} ${countLabel(it.count)} / ${countLabel(it.capacity)}`),
      ));
    });
    this.items.replaceChildren(...parts);
  }
}
