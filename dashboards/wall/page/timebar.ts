import { h, setAttr, setText } from "./dom.ts";
import { agoLabel, clock } from "./format.ts";

export const HISTORY_SPAN_MIN = 24 * 60;

/** Slider position (minutes before now, ≤ 0) -> the instant it stands for, whole minutes (null = live). */
export function instantOf(minutesBack: number, now: number): number | null {
  if (minutesBack >= 0) return null;
  return Math.floor(now / 60_000) * 60_000 + Math.max(-HISTORY_SPAN_MIN, Math.round(minutesBack)) * 60_000;
}

/**
 * The time bar: a slider over the last 24 h (drag back: the stage shows that moment), the "live"
 * button that returns, and the path explorer's switch.
 */
export class TimeBar {
  readonly root: HTMLElement;
  readonly slider: HTMLInputElement;
  private readonly live: HTMLButtonElement;
  private readonly explore: HTMLButtonElement;
  private readonly when: HTMLDivElement;
  private debounce: ReturnType<typeof setTimeout> | undefined;
  /** the instant shown, null while live */
  at: number | null = null;

  constructor(private readonly o: { onSeek(t: number | null): void; onExplorer(open: boolean): void; explorer: boolean }) {
    this.slider = h("input", {
      type: "range", min: -HISTORY_SPAN_MIN, max: 0, step: 1, value: 0,
      "data-testid": "time-slider", "aria-label": "time: drag back over the last 24 hours",
    });
    this.live = h("button", { class: "live", type: "button", "aria-pressed": "true", "data-testid": "live-button" }, "● Live");
    this.explore = h("button", { class: "explore", type: "button", "aria-pressed": "false", "data-testid": "explorer-toggle", hidden: !o.explorer }, "Path explorer");
    this.when = h("div", { class: "when", "data-testid": "time-label" }, "live");
    const ticks = h("div", { class: "ticks" }, ...["−24 h", "−18 h", "−12 h", "−6 h", "now"].map((t) => h("span", {}, t)));
    this.root = h("footer", { class: "timebar" }, this.live, h("div", { class: "slider" }, this.slider, ticks), this.when, this.explore);

    this.slider.addEventListener("input", () => {
      const t = instantOf(Number(this.slider.value), Date.now());
      this.show(t, Date.now());
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.seek(t), 350);
    });
    this.slider.addEventListener("change", () => {
      if (this.debounce) clearTimeout(this.debounce);
      this.seek(instantOf(Number(this.slider.value), Date.now()));
    });
    this.live.addEventListener("click", () => this.seek(null));
    this.explore.addEventListener("click", () => {
      const open = this.explore.getAttribute("aria-pressed") !== "true";
      setAttr(this.explore, "aria-pressed", String(open));
      this.o.onExplorer(open);
    });
  }

  /** Goes to an instant (null: live), as if the slider had been dragged there. */
  seek(t: number | null): void {
    if (t === this.at) return;
    this.at = t;
    const now = Date.now();
    this.slider.value = String(t === null ? 0 : Math.round((t - now) / 60_000));
    this.show(t, now);
    this.o.onSeek(t);
  }

  /** Keeps the slider where the shown instant is as time passes. */
  tick(now: number): void {
    if (this.at !== null && document.activeElement !== this.slider) this.slider.value = String(Math.max(-HISTORY_SPAN_MIN, Math.round((this.at - now) / 60_000)));
    this.show(this.at, now);
  }

  setExplorer(open: boolean): void {
    setAttr(this.explore, "aria-pressed", String(open));
  }

  private show(t: number | null, now: number): void {
    setAttr(this.live, "aria-pressed", String(t === null));
    setText(this.when, t === null ? "live" : `${clock(t)} (${agoLabel(t, now)})`);
    setAttr(this.when, "class", t === null ? "when" : "when history");
  }
}
