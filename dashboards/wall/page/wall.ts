import type { ServerMessage } from "../../../contracts/live-protocol.ts";
import type { WallPlan, WallSpace } from "../../../contracts/wall.ts";
import { CameraTile } from "./camera-tile.ts";
import { CHART_STEP_MS, ChartView, type ChartData } from "./chart-view.ts";
import { FrameLoop } from "./coalesce.ts";
import { h, setAttr } from "./dom.ts";
import { Explorer } from "./explorer.ts";
import { clock } from "./format.ts";
import { historyFrame, liveFrame, peopleAt, type Frame, type HistoryCounts } from "./frame.ts";
import { DEFAULT_HEARTBEAT_MS, LiveClient, SILENT_HEARTBEATS, type LiveStatus } from "./live.ts";
import { SERIES_WINDOW_MS, WallModel } from "./model.ts";
import { BusiestPanel, ComparePanel, Header, StaleBanner, Ticker, type TickerItem } from "./panels.ts";
import { PlanView } from "./plan-view.ts";
import type { PathItem, Rest } from "./rest.ts";
import { StepSeries, sumSamples, type UsualHour } from "./series.ts";
import { TilesView } from "./tiles-view.ts";
import { TimeBar } from "./timebar.ts";

const HOUR = 3_600_000;
/** counts over REST while the live feed is down */
const COUNTS_POLL_MS = 15_000;
/** camera-based counts (not in the live feed) */
const ZONES_POLL_MS = 5_000;
const FLOW_POLL_MS = 60_000;
const USUAL_POLL_MS = 10 * 60_000;
const CAMERAS_POLL_MS = 15_000;
const COMPARE_POLL_MS = 60_000;
const STILL_REFRESH_MS = 3_000;
const STILL_ROTATE_MS = 20_000;
/** which cameras have a still */
const STILL_CAMERAS_MS = 10_000;
/** the slider returns to live after this long untouched */
const HISTORY_IDLE_MS = 3 * 60_000;
/** a dropped feed shows as stale only after this grace (a quick reconnect does not flash) */
const STALE_GRACE_MS = 2_000;
const SPARK_STEP_MS = 60_000;

type Counted = "dpu" | "camera" | "none";
/** Which count a space's series comes from. */
const countedBy = (sp: WallSpace): Counted => (sp.dpu ? "dpu" : sp.polygon !== null && sp.cameras.length > 0 ? "camera" : "none");

interface History {
  t: number;
  frame: Frame;
  chart: ChartData;
  sparks: Map<string, Array<number | null>>;
}

/**
 * One site's wall: loads the plan, paints the counts, series and usual from REST, then follows
 * the live feed; polls REST for what the feed does not carry (camera counts, flow, usual, stills)
 * and for counts while the feed is down; the time slider swaps the live frame for a past one.
 */
export class Wall {
  private plan!: WallPlan;
  private model!: WallModel;
  private live!: LiveClient;
  private header!: Header;
  private readonly banner = new StaleBanner();
  private readonly ticker = new Ticker();
  private timebar!: TimeBar;
  private chart!: ChartView;
  private planView: PlanView | undefined;
  private tiles: TilesView | undefined;
  private stage!: HTMLElement;
  private side!: HTMLElement;
  private compare: ComparePanel | undefined;
  private busiest: BusiestPanel | undefined;
  private readonly camera = new CameraTile();
  private explorer: Explorer | undefined;
  private readonly loop = new FrameLoop(() => this.paint());

  private usual: UsualHour[] = [];
  private history: History | null = null;
  private seekRun = 0;
  private lastInteraction = Date.now();
  private readonly restHealth = new Map<string, string>();
  private liveStatus: LiveStatus = { state: "connecting", retryAt: null, closeCode: null, reason: null, attempts: 0 };
  private readonly bootAt = Date.now();
  /** the newest instant the live feed was known current */
  private liveFreshAt: number | null = null;
  private liveLostAt: number | null = null;
  /** the newest REST poll that answered, and whether the newest one failed */
  private restOkAt: number | null = null;
  private restFailing = false;
  private stillCameras: string[] = [];
  private stillIndex = 0;
  private stillShownAt = 0;
  private siteCapacity: number | null = null;
  private chartPaintedAt = 0;
  /** "9 spaces · 14 DPUs · 14 cameras" */
  private inventory = "";

  constructor(private readonly root: HTMLElement, private readonly site: string, private readonly rest: Rest) {}

  async start(): Promise<void> {
    for (;;) {
      const r = await this.rest.plan();
      if (r.ok) { this.plan = r.data; break; }
      this.root.replaceChildren(h("div", { class: "wall-message" }, h("main", {}, h("h1", {}, "The wall cannot start"),
        h("p", {}, r.status === 401 || r.status === 403 ? `The key was refused (${r.reason}). Open /wall/${this.site}?key=… with a viewer key of this site.` : `The plan could not be read: ${r.reason}. Trying again…`))));
      await new Promise((res) => setTimeout(res, 10_000));
    }
    this.model = new WallModel(this.plan);
    const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
    this.inventory = [n(this.plan.spaces.length, "space", "spaces"), this.plan.dpus > 0 ? n(this.plan.dpus, "DPU", "DPUs") : "", this.plan.cameras.length > 0 ? n(this.plan.cameras.length, "camera", "cameras") : ""].filter(Boolean).join(" · ");
    const caps = this.plan.spaces.map((sp) => sp.capacity);
    this.siteCapacity = caps.length > 0 && caps.every((c) => c !== null) ? caps.reduce((a, b) => a! + b!, 0) : null;
    this.build();
    this.layout();
    await this.firstPaint();
    document.body.dataset.ready = "true";
    this.live = new LiveClient({
      site: this.site,
      onMessage: (m) => this.onLive(m),
      onStatus: (s) => this.onLiveStatus(s),
    });
    this.live.start();
    this.timers();
  }

  // ---------------------------------------------------------------- layout

  private build(): void {
    const plan = this.plan;
    const drawn = plan.spaces.some((sp) => sp.polygon !== null && sp.polygon.length >= 3);
    this.header = new Header(plan.site, "occupancy now");
    this.chart = new ChartView();
    this.timebar = new TimeBar({
      explorer: plan.cameras.length > 0 && drawn,
      onSeek: (t) => void this.seek(t),
      onExplorer: (open) => this.toggleExplorer(open),
    });
    this.stage = h("main", { class: "stage" });
    if (drawn) {
      this.planView = new PlanView(plan);
      this.tiles = new TilesView(plan.spaces, true);
      this.stage.append(this.planView.root, this.tiles.root);
    } else {
      this.tiles = new TilesView(plan.spaces, false);
      this.stage.append(this.tiles.root);
    }
    const compared = plan.spaces.filter((sp) => sp.dpu && sp.cameras.length > 0 && sp.polygon !== null);
    if (compared.length > 0) this.compare = new ComparePanel(compared);
    else this.busiest = new BusiestPanel(plan.spaces);
    this.side = h("aside", { class: "side" }, this.chart.root, this.camera.root, this.compare?.root, this.busiest?.root);
    if (drawn && plan.cameras.length > 0) {
      this.explorer = new Explorer({
        plan, rest: this.rest,
        end: () => this.timebar.at ?? Date.now(),
        onPaths: (items) => this.planView?.showPaths(items),
      });
    }
    const wallRoot = h("div", { class: "wall-root" },
      this.header.root, this.stage, this.side, this.ticker.root, this.timebar.root, this.explorer?.root, this.banner.root);
    this.root.replaceChildren(wallRoot);
    document.body.dataset.kind = drawn ? "plan" : "tiles";
    document.body.dataset.mode = "live";

    for (const ev of ["pointerdown", "keydown", "input", "wheel"]) document.addEventListener(ev, () => { this.lastInteraction = Date.now(); }, { passive: true });
    window.addEventListener("resize", () => this.layout());
  }

  /** Sizes the plan, the strip of tiles under it (when the plan leaves room) and the chart. */
  private layout(): void {
    const W = this.stage.clientWidth, H = this.stage.clientHeight;
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    if (this.planView && this.tiles) {
      const planH = Math.ceil((W - 1.6 * rem) * this.planView.aspect + 3 * rem);
      const room = H - planH - 0.75 * rem;
      if (room >= 9 * rem) {
        this.planView.root.style.flex = `0 0 ${planH}px`;
        this.tiles.root.hidden = false;
        this.tiles.root.style.height = `${room}px`;
        this.tiles.layout(W, room);
      } else {
        this.planView.root.style.flex = "1 1 auto";
        this.tiles.root.hidden = true;
      }
    } else if (this.tiles) {
      this.tiles.layout(W, H);
    }
    // the side column: the chart, the camera tile when a camera has a still, and the list with
    // what is left; a list too short for three rows says nothing and goes, and the chart grows
    const chartHost = this.chart.root.querySelector<HTMLElement>(".chart-host")!;
    this.chart.unmount();
    const chartRem = !this.camera.root.hidden ? 13 : !this.compare && this.plan.cameras.length === 0 ? 24 : 15;
    this.chart.root.style.flex = "0 0 auto";
    chartHost.style.height = `${chartRem * rem}px`;
    const list = this.compare?.root ?? this.busiest?.root;
    if (list) {
      list.hidden = false;
      if (list.clientHeight < 13 * rem) {
        list.hidden = true;
        this.chart.root.style.flex = "1 1 auto";
        chartHost.style.height = "0";
        chartHost.style.flex = "1 1 auto";
      } else {
        chartHost.style.flex = "";
      }
    }
    this.chart.mount(chartHost.clientWidth || 30 * rem, chartHost.clientHeight || chartRem * rem);
  }

  // ---------------------------------------------------------------- REST

  private restAnswered(ok: boolean): void {
    if (ok) { this.restOkAt = Date.now(); this.restFailing = false; } else this.restFailing = true;
  }

  private async firstPaint(): Promise<void> {
    const now = Date.now();
    await Promise.all([
      this.refreshCounts(), this.refreshZones(), this.loadSeries(now), this.refreshCameras(),
      this.refreshFlow(), this.refreshUsual(), this.refreshCompare(),
    ]);
    this.paint();
    void this.refreshStillCameras();
  }

  /** DPU counts and the site total over REST (first paint, and while the live feed is down). */
  private async refreshCounts(): Promise<void> {
    if (!this.model.dpuSite) return;
    const t = Date.now();
    const dpuSpaces = this.plan.spaces.filter((sp) => sp.dpu);
    const [total, ...spaces] = await Promise.all([this.rest.siteCount(), ...dpuSpaces.map((sp) => this.rest.spaceCount(sp.id))]);
    // the live feed may have come back meanwhile: its counts are newer
    if (this.live?.current.state === "live") return;
    if (total!.ok) this.model.setTotal(total!.data.count, null, t);
    spaces.forEach((r, i) => { if (r.ok) this.model.setDpu(dpuSpaces[i]!.id, r.data.count, null, t); });
    this.restAnswered(total!.ok);
    this.loop.request();
  }

  /** Camera-based counts of the spaces cameras see. */
  private async refreshZones(): Promise<void> {
    const zones = this.plan.spaces.filter((sp) => sp.polygon !== null && sp.cameras.length > 0);
    if (zones.length === 0) return;
    const t = Date.now();
    const rs = await Promise.all(zones.map((sp) => this.rest.zoneCount(sp.id)));
    rs.forEach((r, i) => { if (r.ok) this.model.setCamera(zones[i]!.id, r.data.count, t); });
    this.restAnswered(rs.some((r) => r.ok));
    this.loop.request();
  }

  /** Per-space series of the window's hour: sparklines, and their sum is the site's curve. */
  private async seriesOf(to: number): Promise<{ spaces: Map<string, StepSeries>; site: StepSeries }> {
    const from = to - SERIES_WINDOW_MS;
    const spaces = new Map<string, StepSeries>();
    const counted = this.plan.spaces.filter((sp) => countedBy(sp) !== "none");
    const rs = await Promise.all(counted.map((sp) =>
      countedBy(sp) === "dpu" ? this.rest.spaceSeries(sp.id, from, to, "15s") : this.rest.zoneSeries(sp.id, from, to, "15s")));
    rs.forEach((r, i) => {
      const series = new StepSeries(SERIES_WINDOW_MS);
      if (r.ok) series.replace(r.data.points);
      spaces.set(counted[i]!.id, series);
    });
    const forSite = counted.filter((sp) => countedBy(sp) === (this.model.dpuSite ? "dpu" : "camera"));
    const sums = sumSamples(forSite.map((sp) => spaces.get(sp.id)!.sample(from, to, CHART_STEP_MS)));
    const site = new StepSeries(SERIES_WINDOW_MS);
    site.replace(sums.flatMap((v, i) => (v === null ? [] : [{ t: from + i * CHART_STEP_MS, count: v }])));
    return { spaces, site };
  }

  private async loadSeries(now: number): Promise<void> {
    const { spaces, site } = await this.seriesOf(now);
    for (const [id, s] of spaces) {
      const held = this.model.spaceSeries.get(id)!;
      // keep live points newer than the REST answer
      const newer = held.points().filter((p) => p[0] > now);
      held.replace([...s.points(), ...newer].map(([t, count]) => ({ t, count })));
    }
    const newer = this.model.siteSeries.points().filter((p) => p[0] > now);
    this.model.siteSeries.replace([...site.points(), ...newer].map(([t, count]) => ({ t, count })));
    this.model.dirty.add("series");
  }

  private async refreshCameras(): Promise<void> {
    if (this.plan.cameras.length === 0 || this.live?.current.state === "live") return;
    const r = await this.rest.cameras();
    if (!r.ok) return;
    for (const c of r.data.cameras) this.restHealth.set(c.camera, c.state);
    this.model.dirty.add("devices");
    this.loop.request();
  }

  private async refreshFlow(): Promise<void> {
    const now = Date.now();
    const r = await this.rest.flow(now - HOUR, now);
    this.header.setFlow(r.ok ? r.data : r.status === 404 ? "absent" : null);
  }

  private async refreshUsual(): Promise<void> {
    const now = Date.now();
    const r = await this.rest.usual(now - 2 * HOUR, now + HOUR);
    if (r.ok) { this.usual = r.data.hours; this.model.dirty.add("series"); this.loop.request(); }
  }

  private async refreshCompare(): Promise<void> {
    if (!this.compare) return;
    const now = Date.now();
    const spaces = this.plan.spaces.filter((sp) => sp.dpu && sp.cameras.length > 0 && sp.polygon !== null);
    const rs = await Promise.all(spaces.map((sp) => this.rest.cameraVsDpu(sp.id, now - HOUR, now, "1m")));
    const ok = rs.flatMap((r) => (r.ok ? [r.data.mean_abs_difference] : []));
    this.compare.setQuality(ok.length > 0 ? ok.reduce((a, b) => a + b, 0) / ok.length : null);
  }

  /** Which cameras have a still now (footfall's camera agent sends one every few seconds). */
  private async refreshStillCameras(): Promise<void> {
    if (this.plan.cameras.length === 0) return;
    const r = await this.rest.stills();
    if (!r.ok) return;
    const known = new Set(this.plan.cameras.map((c) => c.id));
    this.stillCameras = r.data.cameras.filter((c) => known.has(c));
    if (this.stillCameras.length === 0) {
      if (!this.camera.root.hidden) { this.camera.hide(); this.layout(); }
      return;
    }
    if (this.camera.camera === undefined || !this.stillCameras.includes(this.camera.camera)) {
      this.stillIndex = 0;
      this.stillShownAt = Date.now();
      await this.refreshStill();
    }
  }

  private showStill(camera: string, url: string, at: number | null, frame: { w: number; h: number } | null): void {
    const first = this.camera.root.hidden;
    this.camera.showStill(camera, url, at, frame);
    this.camera.drawTracks(this.model.tracks.get(camera));
    if (first) this.layout();
  }

  private async refreshStill(): Promise<void> {
    if (this.stillCameras.length === 0) return;
    const now = Date.now();
    if (now - this.stillShownAt > STILL_ROTATE_MS && this.stillCameras.length > 1) {
      this.stillIndex = (this.stillIndex + 1) % this.stillCameras.length;
      this.stillShownAt = now;
    }
    const cam = this.stillCameras[this.stillIndex % this.stillCameras.length]!;
    const r = await this.rest.still(cam);
    if (r.kind === "still") this.showStill(cam, r.url, r.at, r.frame);
    else if (r.kind === "none") {
      this.stillCameras = this.stillCameras.filter((c) => c !== cam);
      if (this.stillCameras.length === 0) { this.camera.hide(); this.layout(); }
    }
  }

  // ---------------------------------------------------------------- live

  private onLive(m: ServerMessage): void {
    const now = Date.now();
    switch (m.t) {
      case "snapshot": this.model.applySnapshot(m, now); break;
      case "update": this.model.applyEvent(m.event, now); break;
      case "device": this.model.applyDevice(m.device); break;
      case "resumed": case "refused": case "heartbeat": break;
    }
    this.liveFreshAt = now;
    this.loop.request();
  }

  private onLiveStatus(s: LiveStatus): void {
    const was = this.liveStatus.state;
    this.liveStatus = s;
    const now = Date.now();
    if (s.state === "live") { this.liveFreshAt = now; this.liveLostAt = null; }
    else if (was === "live") {
      // liveFreshAt stays the last message: a socket dropped for silence was not current after it
      this.liveLostAt = now;
      // the feed dropped: see at once whether the API still answers
      void this.refreshCounts();
    }
    this.status(now);
  }

  /** The connection pill and the stale banner. */
  private status(now: number): void {
    const s = this.liveStatus;
    const live = s.state === "live";
    const restFresh = this.restOkAt !== null && !this.restFailing && now - this.restOkAt < COUNTS_POLL_MS + 10_000;
    const lostFor = now - (this.liveLostAt ?? this.bootAt);
    // current while heartbeats, updates or REST answers arrive; stale when none came within the
    // feed's silence bound, or at once (after a short grace) when the feed is down and REST fails
    const deliveredAt = Math.max(this.liveFreshAt ?? 0, this.restOkAt ?? 0) || null;
    const bound = this.live ? this.live.silenceBoundMs : SILENT_HEARTBEATS * DEFAULT_HEARTBEAT_MS;
    const silent = now - (deliveredAt ?? this.bootAt) > bound;
    const stale = !restFresh && (silent || (!live && lostFor > STALE_GRACE_MS));
    const retry = s.retryAt !== null ? Math.max(0, Math.ceil((s.retryAt - now) / 1000)) : null;
    let state: "live" | "polling" | "connecting" | "reconnecting" | "refused" | "history";
    let text: string;
    if (this.history) { state = "history"; text = `HISTORY ${clock(this.history.t).slice(0, 5)}`; }
    else if (live) { state = "live"; text = "LIVE"; }
    else if (s.state === "refused") { state = "refused"; text = "KEY REFUSED"; }
    else if (restFresh) { state = "polling"; text = "POLLING"; }
    else if (s.state === "connecting" && s.attempts === 0) { state = "connecting"; text = "CONNECTING"; }
    else { state = "reconnecting"; text = retry !== null ? `RECONNECTING ${retry} s` : "RECONNECTING"; }
    this.header.setState(state, text);
    const body = document.body.dataset;
    body.liveState = s.state;
    body.stale = String(stale);
    if (stale) {
      const since = deliveredAt;
      const detail = s.state === "refused" ? `live feed refused the key${s.reason ? `: ${s.reason}` : ""}`
        : retry !== null ? `reconnecting in ${retry} s` : "reconnecting";
      this.banner.show(since, detail);
    } else {
      this.banner.hide();
    }
  }

  // ---------------------------------------------------------------- history

  private async seek(t: number | null): Promise<void> {
    const run = ++this.seekRun;
    if (t === null) {
      this.history = null;
      document.body.dataset.mode = "live";
      delete document.body.dataset.at;
      this.model.dirty.add("series");
      this.loop.request();
      this.status(Date.now());
      return;
    }
    document.body.dataset.mode = "history";
    document.body.dataset.historyLoaded = "false";
    document.body.dataset.at = String(t);
    const [counts, people, series, usual] = await Promise.all([this.countsAt(t), this.peopleAt(t), this.seriesOf(t), this.rest.usual(t - 2 * HOUR, t + HOUR)]);
    if (run !== this.seekRun) return;
    const from = t - SERIES_WINDOW_MS;
    const sparks = new Map<string, Array<number | null>>();
    for (const [id, s] of series.spaces) sparks.set(id, s.sample(from, t, SPARK_STEP_MS));
    this.history = {
      t,
      frame: historyFrame(this.plan, counts, people),
      chart: { to: t, values: series.site.sample(from, t, CHART_STEP_MS), usual: usual.ok ? usual.data.hours : [], capacity: this.siteCapacity },
      sparks,
    };
    document.body.dataset.historyLoaded = "true";
    this.chartPaintedAt = 0;
    this.loop.request();
    this.status(Date.now());
  }

  private async countsAt(t: number): Promise<HistoryCounts> {
    const dpu = new Map<string, number>(), camera = new Map<string, number>();
    const dpuSpaces = this.plan.spaces.filter((sp) => sp.dpu);
    const zones = this.plan.spaces.filter((sp) => sp.polygon !== null && sp.cameras.length > 0);
    const [total, ...rest] = await Promise.all([
      this.model.dpuSite ? this.rest.siteCount(t) : Promise.resolve(null),
      ...dpuSpaces.map((sp) => this.rest.spaceCount(sp.id, t)),
      ...zones.map((sp) => this.rest.zoneCount(sp.id, t)),
    ]);
    rest.forEach((r, i) => {
      if (!r || !r.ok) return;
      if (i < dpuSpaces.length) dpu.set(dpuSpaces[i]!.id, r.data.count);
      else camera.set(zones[i - dpuSpaces.length]!.id, r.data.count);
    });
    return { at: t, dpu, camera, total: total && total.ok ? total.data.count : null };
  }

  private async peopleAt(t: number) {
    if (this.plan.cameras.length === 0) return [];
    const q = new URLSearchParams({ from: String(t - 60_000), to: String(t), limit: "1000" });
    const r = await this.rest.paths(q);
    const items: PathItem[] = r.ok && r.data.kind === "page" ? r.data.page.items : [];
    return peopleAt(items, t);
  }

  private toggleExplorer(open: boolean): void {
    if (!this.explorer) return;
    this.explorer.root.hidden = !open;
    if (!open) this.planView?.showPaths(null);
  }

  // ---------------------------------------------------------------- paint

  private sparkOf = (id: string): ReadonlyArray<number | null> => {
    if (this.history) return this.history.sparks.get(id) ?? [];
    const now = Date.now();
    return this.model.spaceSeries.get(id)?.sample(now - SERIES_WINDOW_MS, now, SPARK_STEP_MS) ?? [];
  };

  private paint(): void {
    const now = Date.now();
    const m = this.model;
    const frame = this.history?.frame ?? liveFrame(m, now);
    this.planView?.render(frame);
    if (this.tiles && !this.tiles.root.hidden) this.tiles.render(frame, this.sparkOf);
    this.compare?.render(frame);
    this.busiest?.render(frame);
    this.header.setTotal(frame.total, this.siteCapacity, `${frame.mode === "live" ? "occupancy now" : `occupancy at ${clock(frame.at)}`} · ${this.inventory}`);
    this.header.setIngest(m.ingest.perSecond(now + m.clockOffset), this.liveStatus.state === "live" || m.ingest.brokers > 0);
    // health is known for now only: a past instant shows the cameras without it
    this.planView?.renderCameras((id) => (this.history ? "unknown" : m.devices.get(id)?.state ?? this.restHealth.get(id)));
    if (m.dirty.has("tracks") && this.camera.camera) this.camera.drawTracks(m.tracks.get(this.camera.camera));
    this.ticker.render(this.tickerItems(frame, now), now);
    this.header.setOver(this.plan.spaces.filter((sp) => {
      const n = frame.spaces.get(sp.id)?.shown;
      return sp.capacity !== null && n != null && n > sp.capacity;
    }).map((sp) => sp.name));
    // the chart: at most once a second live; at once for a past instant
    if (this.history) {
      if (this.chartPaintedAt === 0) { this.chart.update(this.history.chart, `until ${clock(this.history.t).slice(0, 5)}`); this.chartPaintedAt = now; }
    } else if (now - this.chartPaintedAt >= 1000 || m.dirty.has("series")) {
      m.siteSeries.prune(now);
      const to = Math.floor(now / 1000) * 1000;
      this.chart.update({ to, values: m.siteSeries.sample(to - SERIES_WINDOW_MS, to, CHART_STEP_MS).map((v, i, all) => (i === all.length - 1 && v === null ? m.siteTotal() : v)), usual: this.usual, capacity: this.siteCapacity });
      this.chartPaintedAt = now;
    }
    setAttr(document.body, "data-people", String(frame.people.length));
    m.dirty.clear();
  }

  private tickerItems(frame: Frame, now: number): TickerItem[] {
    const m = this.model;
    if (frame.mode === "history") {
      // a past instant: the spaces over capacity then
      return this.plan.spaces.flatMap((sp) => {
        const n = frame.spaces.get(sp.id)?.shown;
        return sp.capacity !== null && n != null && n > sp.capacity
          ? [{ space: sp.id, name: sp.name, state: "over" as const, count: n, capacity: sp.capacity, at: frame.at, open: false }]
          : [];
      });
    }
    const open: TickerItem[] = [];
    const openSpaces = new Set<string>();
    for (const [space, e] of m.openAlerts) {
      openSpaces.add(space);
      open.push({ space, name: e.name, state: "over", count: m.countOf(space) ?? e.alert.count, capacity: e.alert.capacity, at: e.alert.at, open: true });
    }
    for (const s of m.overCapacity()) {
      if (openSpaces.has(s.def.id)) continue;
      open.push({ space: s.def.id, name: s.def.name, state: "over", count: m.countOf(s.def.id)!, capacity: s.def.capacity!, at: s.dpuAt ?? s.cameraAt ?? now, open: true });
    }
    const log: TickerItem[] = m.alertLog
      .filter((e) => !(e.alert.state === "over" && openSpaces.has(e.alert.space) && m.openAlerts.get(e.alert.space) === e))
      .map((e) => ({ space: e.alert.space, name: e.name, state: e.alert.state, count: e.alert.count, capacity: e.alert.capacity, at: e.alert.at, open: false }));
    return [...open, ...log];
  }

  // ---------------------------------------------------------------- timers

  private timers(): void {
    const every = (ms: number, fn: () => unknown) => setInterval(() => { void fn(); }, ms);
    every(1000, () => {
      const now = Date.now();
      this.header.setClock(now);
      this.timebar.tick(now);
      this.model.prunePeople(now);
      this.status(now);
      if (this.history && now - this.lastInteraction > HISTORY_IDLE_MS) this.timebar.seek(null);
      this.loop.request();
    });
    every(COUNTS_POLL_MS, () => (this.live.current.state === "live" ? undefined : this.refreshCounts()));
    every(ZONES_POLL_MS, () => this.refreshZones());
    every(CAMERAS_POLL_MS, () => this.refreshCameras());
    every(FLOW_POLL_MS, () => this.refreshFlow());
    every(USUAL_POLL_MS, () => this.refreshUsual());
    every(COMPARE_POLL_MS, () => this.refreshCompare());
    every(STILL_REFRESH_MS, () => this.refreshStill());
    every(STILL_CAMERAS_MS, () => this.refreshStillCameras());
    this.header.setClock(Date.now());
  }
}
