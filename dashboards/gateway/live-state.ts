import type { CapacityAlert, FootfallEvent, PersonUpdate } from "../../contracts/events.ts";
import type { DeviceState, Snapshot, SpaceState } from "../../contracts/live-protocol.ts";
import { LIVE_PROTOCOL_VERSION } from "../../contracts/live-protocol.ts";
import type { StoredTopology } from "../../contracts/topology.ts";

/** A value and the FF_EVENTS sequence it came from (0: read from InfluxDB, older than any event). */
interface Held<T> { seq: number; value: T }

export interface Count { count: number; at: number | null }

/** What a client asked to see of a site: every space and camera, or only these. */
export interface SiteFilter { spaces?: ReadonlySet<string>; cameras?: ReadonlySet<string> }

class SiteState {
  readonly spaces = new Map<string, Held<Count>>();
  total: Held<Count> | undefined;
  readonly alerts = new Map<string, Held<CapacityAlert>>();
  /** person -> newest update, with the time it was stored in the stream (for expiry) */
  readonly people = new Map<string, Held<{ update: PersonUpdate; storedAt: number }>>();
}

/** Whether `incoming` (from seq) replaces what is held: a newer event, or anything over a value read from InfluxDB. */
const newer = (held: Held<unknown> | undefined, seq: number) => !held || seq > held.seq;

/**
 * The current state of every site, as the FF_EVENTS stream tells it: each space's count, the
 * site total, each space's newest capacity alert, and the people seen within the person silence.
 * Every value keeps the stream sequence it came from, and only a newer event replaces it, so the
 * bootstrap (newest event per subject) and the live feed can be applied in any overlap.
 * Counts that no event in the stream holds (unchanged for longer than the stream keeps events)
 * are filled from InfluxDB with seq 0.
 */
export class LiveState {
  private readonly sites = new Map<string, SiteState>();

  constructor(private readonly peopleWindowMs: number) {}

  private site(site: string): SiteState {
    let s = this.sites.get(site);
    if (!s) this.sites.set(site, (s = new SiteState()));
    return s;
  }

  /** Applies one event of the stream (stored at `storedAt`, epoch ms). */
  apply(seq: number, e: FootfallEvent, storedAt: number): void {
    switch (e.type) {
      case "occupancy.changed": {
        const s = this.site(e.site);
        if (newer(s.spaces.get(e.space), seq)) s.spaces.set(e.space, { seq, value: { count: e.count, at: e.at } });
        return;
      }
      case "site_occupancy.changed": {
        const s = this.site(e.site);
        if (newer(s.total, seq)) s.total = { seq, value: { count: e.count, at: e.at } };
        return;
      }
      case "alert.capacity": {
        const s = this.site(e.site);
        if (newer(s.alerts.get(e.space), seq)) s.alerts.set(e.space, { seq, value: e });
        return;
      }
      case "person.update": {
        const s = this.site(e.site);
        const held = s.people.get(e.person);
        if (!newer(held, seq)) return;
        if (e.ended) s.people.delete(e.person);
        else s.people.set(e.person, { seq, value: { update: e, storedAt } });
        return;
      }
      default:
        // track frames and ingest rates are passed on live, never part of a snapshot
        return;
    }
  }

  /** Spaces of the topology whose count no event holds (to be read from InfluxDB), and whether the total is missing. */
  missing(topo: StoredTopology): { spaces: string[]; total: boolean } {
    const s = this.sites.get(topo.site);
    return { spaces: topo.spaces.map((sp) => sp.id).filter((id) => !s?.spaces.has(id)), total: !s?.total };
  }

  /** A count read from InfluxDB; kept only if no event arrived meanwhile. */
  fillSpace(site: string, space: string, count: number): void {
    const s = this.site(site);
    if (!s.spaces.has(space)) s.spaces.set(space, { seq: 0, value: { count, at: null } });
  }

  fillTotal(site: string, count: number): void {
    const s = this.site(site);
    if (!s.total) s.total = { seq: 0, value: { count, at: null } };
  }

  /** Drops people whose newest update was stored before the person silence. */
  prune(now: number): void {
    for (const s of this.sites.values()) {
      for (const [id, p] of s.people) if (now - p.value.storedAt > this.peopleWindowMs) s.people.delete(id);
    }
  }

  /**
   * The site's state for a client, as of stream sequence `seq` (the feed's position: every event
   * up to it is applied, none after it), with its topology's names and capacities.
   */
  snapshot(topo: StoredTopology, filter: SiteFilter, devices: readonly DeviceState[], seq: number, now: number): Snapshot {
    const s = this.sites.get(topo.site) ?? new SiteState();
    const wanted = (space: string) => !filter.spaces || filter.spaces.has(space);
    const spaces: SpaceState[] = [];
    const alerts: CapacityAlert[] = [];
    for (const sp of topo.spaces) {
      if (!wanted(sp.id)) continue;
      const c = s.spaces.get(sp.id)?.value ?? { count: 0, at: null };
      spaces.push({ space: sp.id, name: sp.name, count: c.count, capacity: sp.capacity ?? null, at: c.at });
      const alert = s.alerts.get(sp.id)?.value;
      if (alert) {
        if (alert.state === "over") alerts.push(alert);
      } else if (sp.capacity !== undefined && c.count > sp.capacity) {
        // the alert was raised longer ago than the stream keeps events: it is still open
        alerts.push({ type: "alert.capacity", site: topo.site, space: sp.id, state: "over", count: c.count, capacity: sp.capacity, at: c.at ?? now });
      }
    }
    const people: PersonUpdate[] = [];
    for (const p of s.people.values()) if (now - p.value.storedAt <= this.peopleWindowMs) people.push(p.value.update);
    const total = s.total?.value ?? { count: 0, at: null };
    return {
      v: LIVE_PROTOCOL_VERSION, t: "snapshot", site: topo.site, seq, now,
      total: { count: total.count, at: total.at },
      spaces, people,
      devices: devices.filter((d) => d.kind !== "camera" || !filter.cameras || filter.cameras.has(d.device)),
      alerts,
    };
  }
}
