import type { WallPlan } from "../../../contracts/wall.ts";
import { GARMENT_COLOURS } from "./colour.ts";
import { h } from "./dom.ts";
import { clockHm, countLabel, durationLabel, metresLabel } from "./format.ts";
import { describeFilter, dwellBySpace, explorerQuery, type ExplorerFilter } from "./explorer-logic.ts";
import type { PathItem, Rest } from "./rest.ts";

const RANGES: Array<[label: string, ms: number]> = [["last 15 min", 15 * 60_000], ["last hour", 3_600_000], ["last 4 hours", 4 * 3_600_000], ["last 24 hours", 24 * 3_600_000]];
const MAX_PATHS = 200;
const JOB_WAIT_MS = 180_000;

/**
 * The path explorer: attribute filters and a time range (ending at the time bar's instant); the
 * matching people's paths are drawn on the plan, with distance (the API's statistics over every
 * match) and dwell per space (from the visits of the paths shown) beside them.
 */
export class Explorer {
  readonly root: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly result: HTMLDivElement;
  private run = 0;

  constructor(private readonly o: {
    plan: WallPlan;
    rest: Rest;
    /** the end of the range: the time bar's instant, or now */
    end(): number;
    onPaths(items: PathItem[] | null): void;
  }) {
    const colourSelect = (name: string) => h("select", { name }, h("option", { value: "" }, "any"), ...GARMENT_COLOURS.map((c) => h("option", { value: c }, c)));
    const zones = o.plan.spaces.filter((sp) => sp.polygon !== null && sp.cameras.length > 0);
    const zone = h("select", { name: "zone" }, h("option", { value: "" }, "anywhere"), ...zones.map((sp) => h("option", { value: sp.id }, sp.name)));
    const range = h("select", { name: "range" }, ...RANGES.map(([label, ms]) => h("option", { value: ms, selected: ms === 3_600_000 }, label)));
    const conf = h("select", { name: "conf" }, ...[["any", "0"], ["≥ 0.5", "0.5"], ["≥ 0.7", "0.7"], ["≥ 0.9", "0.9"]].map(([l, v]) => h("option", { value: v! }, l!)));
    const extra = h("input", { name: "extra", type: "text", placeholder: "e.g. shoes=white", maxlength: 70, autocomplete: "off", spellcheck: "false" });
    const show = h("button", { type: "submit", "data-testid": "explorer-show" }, "Show paths");
    const clearBtn = h("button", { type: "button", class: "secondary", "data-testid": "explorer-clear" }, "Clear");
    const field = (label: string, el: HTMLElement) => h("label", {}, label, el);
    this.form = h("form", {},
      field("Upper garment", colourSelect("upper")),
      field("Lower garment", colourSelect("lower")),
      field("Visited", zone),
      field("Time range", range),
      field("Another attribute", extra),
      field("Confidence", conf),
      h("div", { class: "buttons" }, show, clearBtn),
    );
    this.result = h("div", { class: "result", "data-testid": "explorer-result" }, h("div", { class: "empty" }, "Pick filters and a range, then Show paths."));
    this.root = h("aside", { class: "explorer", "data-testid": "path-explorer", hidden: true }, h("h2", {}, "Path explorer"), this.form, this.result);

    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.query();
    });
    clearBtn.addEventListener("click", () => {
      this.run++;
      this.o.onPaths(null);
      this.result.replaceChildren(h("div", { class: "empty" }, "Cleared."));
    });
  }

  private filter(): ExplorerFilter {
    const data = new FormData(this.form);
    const get = (k: string) => { const v = data.get(k); return typeof v === "string" && v !== "" ? v : undefined; };
    const to = this.o.end();
    return {
      upper: get("upper"), lower: get("lower"), zone: get("zone"), extra: get("extra"),
      minConfidence: Number(get("conf") ?? 0) || undefined,
      from: to - Number(get("range") ?? 3_600_000), to,
    };
  }

  private status(...lines: Array<string | Node>): void {
    this.result.replaceChildren(...lines.map((l) => (typeof l === "string" ? h("div", {}, l) : l)));
  }

  async query(): Promise<void> {
    const run = ++this.run;
    const f = this.filter();
    const q = explorerQuery(f);
    if ("error" in q) return this.status(h("div", { class: "empty" }, q.error));
    const what = describeFilter(f, (id) => this.o.plan.spaces.find((sp) => sp.id === id)?.name ?? id);
    this.status(h("div", { class: "empty" }, `Looking for ${what}…`));
    const deadline = Date.now() + JOB_WAIT_MS;
    for (;;) {
      const pageQuery = new URLSearchParams(q.query);
      pageQuery.set("limit", String(MAX_PATHS));
      const [paths, distance] = await Promise.all([this.o.rest.paths(pageQuery), this.o.rest.distance(q.query)]);
      if (run !== this.run) return;
      if (!paths.ok) return this.status(h("div", { class: "empty" }, `The paths could not be read: ${paths.reason}`));
      if (paths.data.kind === "job") {
        // the attribute was not extracted for part of the range: wait for the reprocessing job
        const job = paths.data.job;
        this.status(h("div", { class: "empty" }, `Extracting "${job.attribute}" for this range first (job ${job.status})…`));
        for (;;) {
          await new Promise((r) => setTimeout(r, 2000));
          if (run !== this.run) return;
          const j = await this.o.rest.job(job.href);
          if (run !== this.run) return;
          if (j.ok && j.data.state === "done") break;
          if (j.ok && j.data.state === "failed") return this.status(h("div", { class: "empty" }, `Extracting "${job.attribute}" failed: ${j.data.error ?? "no reason given"}`));
          if (Date.now() > deadline) return this.status(h("div", { class: "empty" }, `Extracting "${job.attribute}" takes longer than expected; try again later.`));
          if (j.ok && j.data.progress) this.status(h("div", { class: "empty" }, `Extracting "${job.attribute}": ${j.data.progress.done} of ${j.data.progress.total} people…`));
        }
        continue;
      }
      const items = paths.data.page.items;
      this.o.onPaths(items);
      this.showResult(f, what, items, paths.data.page.next_cursor !== null, distance.ok ? distance.data : null);
      return;
    }
  }

  private showResult(f: ExplorerFilter, what: string, items: PathItem[], more: boolean, dist: { count: number; mean_m: number | null; median_m: number | null; p90_m: number | null } | null): void {
    const stat = (k: string, v: string, role: string) => h("div", { class: "stat" }, h("div", { class: "k" }, k), h("div", { class: "v", "data-role": role }, v));
    const dwell = dwellBySpace(items, f.from, f.to).slice(0, 6);
    const nameOf = (id: string) => this.o.plan.spaces.find((sp) => sp.id === id)?.name ?? id;
    const headline = h("div", { class: "headline", "data-role": "headline" },
      `${countLabel(dist?.count ?? items.length)} ${(dist?.count ?? items.length) === 1 ? "person" : "people"} · ${what}`);
    this.result.replaceChildren(
      headline,
      h("div", { class: "empty" }, `${clockHm(f.from)}–${clockHm(f.to)} · ${more ? `newest ${items.length} drawn` : `${items.length} drawn`}`),
      h("div", { class: "stats" },
        stat("people", countLabel(dist?.count ?? items.length), "people"),
        stat("mean walk", metresLabel(dist?.mean_m), "mean-distance"),
        stat("median", metresLabel(dist?.median_m), "median-distance"),
        stat("p90", metresLabel(dist?.p90_m), "p90-distance"),
      ),
      h("div", { class: "row head" }, h("span", { class: "name" }, "dwell per space"), h("span", {}, "visits · median")),
      ...(dwell.length === 0 ? [h("div", { class: "empty" }, "No closed visits in this range.")] : dwell.map((d) =>
        h("div", { class: "row", "data-space": d.space }, h("span", { class: "name" }, nameOf(d.space)), h("span", { class: "nums" }, `${d.visits} · ${durationLabel(d.medianS)}`)))),
    );
  }
}
