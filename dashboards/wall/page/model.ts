import type { CapacityAlert, FootfallEvent, IngestRate, PersonUpdate, TrackUpdate } from "../../../contracts/events.ts";
import type { DeviceState, Snapshot } from "../../../contracts/live-protocol.ts";
import type { WallPlan, WallSpace } from "../../../contracts/wall.ts";
import { StepSeries } from "./series.ts";
import { Trails } from "./trails.ts";

/**
 * What the wall knows now (pure, no DOM): counts per space (DPU and camera-based), the site
 * total, live people and their trails, device health, capacity alerts, the newest camera tracks
 * and the ingest rate; and what changed since the last paint (`dirty`).
 */
export type Part = "spaces" | "total" | "people" | "devices" | "alerts" | "tracks" | "ingest" | "series";

export interface SpaceNow {
  def: WallSpace;
  /** DPU count and its event time, null until known */
  dpu: number | null;
  dpuAt: number | null;
  /** camera-based count (zone), null until known or without cameras */
  camera: number | null;
  cameraAt: number | null;
}

export interface PersonNow {
  update: PersonUpdate;
  /** when this page received it (wall clock) */
  receivedAt: number;
  /** ended persons fade out, then go */
  endedAt: number | null;
}

export interface AlertEntry { alert: CapacityAlert; name: string; receivedAt: number }

export const SERIES_WINDOW_MS = 3_600_000;
/** a person not heard of for this long is dropped (the feed may have missed the end; FOOTFALL_PERSON_SILENCE_S's default) */
export const PERSON_SILENT_MS = 60_000;
/** an ended person stays this long, fading */
export const PERSON_FADE_MS = 3_000;
/** alerts kept for the ticker */
const ALERT_LOG = 30;

/**
 * The site's ingest rate: the newest ingest.rate window of every broker, summed. A broker whose
 * newest window ended more than three windows ago no longer counts (it stopped or has nothing).
 */
export class IngestRates {
  private readonly byBroker = new Map<string, IngestRate>();

  update(ev: IngestRate): void {
    const held = this.byBroker.get(ev.broker);
    if (!held || ev.at >= held.at) this.byBroker.set(ev.broker, ev);
  }

  /** Device messages per second at `now` (event time), null when no broker reported. */
  perSecond(now: number): number | null {
    let sum = 0, any = false;
    for (const ev of this.byBroker.values()) {
      if (now - ev.at > 3 * ev.windowMs) continue;
      any = true;
      const n = Object.values(ev.messages).reduce((a, b) => a + b, 0);
      sum += n / (ev.windowMs / 1000);
    }
    return any ? sum : null;
  }

  get brokers(): number {
    return this.byBroker.size;
  }
}

export class WallModel {
  readonly spaces = new Map<string, SpaceNow>();
  total: { count: number; at: number | null } | null = null;
  readonly people = new Map<string, PersonNow>();
  readonly trails = new Trails();
  readonly devices = new Map<string, DeviceState>();
  /** open alerts by space */
  readonly openAlerts = new Map<string, AlertEntry>();
  /** newest first */
  readonly alertLog: AlertEntry[] = [];
  readonly tracks = new Map<string, TrackUpdate>();
  readonly ingest = new IngestRates();
  /** site occupancy over the last hour, and each space's */
  readonly siteSeries = new StepSeries(SERIES_WINDOW_MS);
  readonly spaceSeries = new Map<string, StepSeries>();
  readonly dirty = new Set<Part>();
  /** server clock minus this page's clock (from the snapshot), ms */
  clockOffset = 0;

  constructor(readonly plan: WallPlan) {
    for (const def of plan.spaces) {
      this.spaces.set(def.id, { def, dpu: null, dpuAt: null, camera: null, cameraAt: null });
      this.spaceSeries.set(def.id, new StepSeries(SERIES_WINDOW_MS));
    }
  }

  /** The site counts with DPUs when it has any; else it is the sum of the camera counts. */
  get dpuSite(): boolean {
    return this.plan.dpus > 0;
  }

  /** A space's count as shown: its DPU count if it has DPUs, else its camera count. */
  countOf(id: string): number | null {
    const s = this.spaces.get(id);
    if (!s) return null;
    return s.def.dpu ? s.dpu : s.camera ?? s.dpu;
  }

  siteTotal(): number | null {
    if (this.dpuSite) return this.total?.count ?? null;
    let sum: number | null = null;
    for (const s of this.spaces.values()) if (s.camera !== null) sum = (sum ?? 0) + s.camera;
    return sum;
  }

  /** Spaces over capacity now (from the counts themselves, so REST-painted walls show them too). */
  overCapacity(): SpaceNow[] {
    return [...this.spaces.values()].filter((s) => {
      const c = this.countOf(s.def.id);
      return s.def.capacity !== null && c !== null && c > s.def.capacity;
    });
  }

  /**
   * A space's DPU count. `eventAt`: the event time of a live count (an older one than held is
   * ignored); null for a count read over REST or from a snapshot, which always applies. `t`: where
   * it goes in the space's series.
   */
  setDpu(space: string, count: number, eventAt: number | null, t: number): void {
    const s = this.spaces.get(space);
    if (!s) return;
    if (eventAt !== null && s.dpuAt !== null && eventAt < s.dpuAt) return;
    s.dpu = count;
    s.dpuAt = eventAt;
    if (s.def.dpu) this.spaceSeries.get(space)!.set(t, count);
    this.dirty.add("spaces");
    this.dirty.add("series");
  }

  /** A space's camera-based count (zone occupancy, read over REST at `t`). */
  setCamera(space: string, count: number, t: number): void {
    const s = this.spaces.get(space);
    if (!s) return;
    s.camera = count;
    s.cameraAt = t;
    if (!s.def.dpu) this.spaceSeries.get(space)!.set(t, count);
    if (!this.dpuSite) {
      const total = this.siteTotal();
      if (total !== null) this.siteSeries.set(t, total);
    }
    this.dirty.add("spaces");
    this.dirty.add("total");
    this.dirty.add("series");
  }

  /** The site total (DPU sites), with the same `eventAt` rule as setDpu. */
  setTotal(count: number, eventAt: number | null, t: number): void {
    if (eventAt !== null && this.total?.at != null && eventAt < this.total.at) return;
    this.total = { count, at: eventAt };
    if (this.dpuSite) this.siteSeries.set(t, count);
    this.dirty.add("total");
    this.dirty.add("series");
  }

  applySnapshot(s: Snapshot, receivedAt: number): void {
    this.clockOffset = s.now - receivedAt;
    for (const sp of s.spaces) this.setDpu(sp.space, sp.count, null, receivedAt);
    this.setTotal(s.total.count, null, receivedAt);
    this.people.clear();
    const keep = new Set(s.people.map((p) => p.person));
    for (const id of this.trails.ids()) if (!keep.has(id)) this.trails.remove(id);
    for (const p of s.people) this.person(p, receivedAt);
    this.devices.clear();
    for (const d of s.devices) this.devices.set(d.device, d);
    this.openAlerts.clear();
    for (const a of s.alerts) if (a.state === "over") this.openAlerts.set(a.space, { alert: a, name: this.nameOf(a.space), receivedAt });
    for (const p of ["spaces", "total", "people", "devices", "alerts"] as const) this.dirty.add(p);
  }

  applyDevice(d: DeviceState): void {
    this.devices.set(d.device, d);
    this.dirty.add("devices");
  }

  applyEvent(ev: FootfallEvent, receivedAt: number): void {
    if (ev.site !== this.plan.site) return;
    switch (ev.type) {
      case "occupancy.changed":
        this.setDpu(ev.space, ev.count, ev.at, ev.at);
        break;
      case "site_occupancy.changed":
        this.setTotal(ev.count, ev.at, ev.at);
        break;
      case "alert.capacity": {
        const entry = { alert: ev, name: this.nameOf(ev.space), receivedAt };
        if (ev.state === "over") this.openAlerts.set(ev.space, entry);
        else this.openAlerts.delete(ev.space);
        this.alertLog.unshift(entry);
        if (this.alertLog.length > ALERT_LOG) this.alertLog.length = ALERT_LOG;
        this.dirty.add("alerts");
        break;
      }
      case "track.update":
        this.tracks.set(ev.camera, ev);
        this.dirty.add("tracks");
        break;
      case "person.update":
        this.person(ev, receivedAt);
        break;
      case "ingest.rate":
        this.ingest.update(ev);
        this.dirty.add("ingest");
        break;
    }
  }

  private person(p: PersonUpdate, receivedAt: number): void {
    const held = this.people.get(p.person);
    if (held && p.at[0] < held.update.at[0]) return;
    this.people.set(p.person, { update: p, receivedAt, endedAt: p.ended ? receivedAt : null });
    this.trails.add(p.person, p.at[0], p.at[1], p.at[2]);
    this.dirty.add("people");
  }

  /** Drops people not heard of for a while and ended ones once faded (wall clock). */
  prunePeople(now: number): void {
    for (const [id, p] of this.people) {
      if ((p.endedAt !== null && now - p.endedAt > PERSON_FADE_MS) || now - p.receivedAt > PERSON_SILENT_MS) {
        this.people.delete(id);
        this.trails.remove(id);
        this.dirty.add("people");
      }
    }
  }

  nameOf(space: string): string {
    return this.spaces.get(space)?.def.name ?? space;
  }
}
