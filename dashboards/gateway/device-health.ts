import { escape, type InfluxDB } from "influx";
import { RP } from "../../contracts/influx-layout.ts";
import type { DeviceState } from "../../contracts/live-protocol.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import { CameraHealthReader } from "../../api/tracks/camera-health.ts";

const q = escape.quoted;
const msLit = (ms: number) => `${Math.max(0, Math.trunc(ms))}ms`;

interface Followed {
  devices: Map<string, DeviceState>;
  /** newest crossing (event time) per DPU, kept between polls that read only the recent window */
  dpuSeen: Map<string, number>;
  loaded: boolean;
}

/**
 * The health of the devices of the sites that have live clients, recomputed every few seconds
 * from InfluxDB. Cameras: the API's own camera health (heartbeats, frames, last will). DPUs and
 * doors send only crossings: "online" while their newest crossing (event time) is at most
 * `dpuSilentMs` old, then "silent"; "unknown" when none was ever written. The first read of a
 * site looks at all of its crossings, later reads only at the last `dpuSilentMs`.
 */
export class DeviceHealth {
  private readonly sites = new Map<string, Followed>();
  private readonly cameras: CameraHealthReader;

  constructor(private readonly influx: InfluxDB, private readonly database: string, private readonly dpuSilentMs: number) {
    this.cameras = new CameraHealthReader(influx, database);
  }

  /** The sites followed now. */
  followed(): string[] {
    return [...this.sites.keys()];
  }

  /** The device states of a followed site (undefined: not followed). */
  current(site: string): DeviceState[] | undefined {
    const f = this.sites.get(site);
    return f?.loaded ? [...f.devices.values()] : undefined;
  }

  /** Whether the site is followed with exactly the topology's devices. */
  covers(topo: StoredTopology): boolean {
    const f = this.sites.get(topo.site);
    return f !== undefined && f.loaded && f.devices.size === topo.devices.length && topo.devices.every((d) => f.devices.get(d.id)?.kind === d.kind);
  }

  forget(site: string): void {
    this.sites.delete(site);
  }

  /**
   * Reads the site's devices now (following it from here on) and returns every device's state
   * and those whose state changed (every device at the first read).
   */
  async refresh(topo: StoredTopology, now = Date.now()): Promise<{ all: DeviceState[]; changed: DeviceState[] }> {
    let f = this.sites.get(topo.site);
    if (!f) this.sites.set(topo.site, (f = { devices: new Map(), dpuSeen: new Map(), loaded: false }));
    const first = !f.loaded;
    const cameraIds = topo.devices.filter((d) => d.kind === "camera").map((d) => d.id);
    const counters = topo.devices.filter((d) => d.kind !== "camera");
    const [cameras, seen] = await Promise.all([
      cameraIds.length ? this.cameras.health(topo.site, cameraIds, now) : Promise.resolve([]),
      counters.length ? this.lastCrossings(topo.site, first ? undefined : now - this.dpuSilentMs) : Promise.resolve(new Map<string, number>()),
    ]);
    for (const [device, t] of seen) f.dpuSeen.set(device, Math.max(t, f.dpuSeen.get(device) ?? -Infinity));

    const next = new Map<string, DeviceState>();
    const byCamera = new Map(cameras.map((c) => [c.camera, c]));
    for (const id of cameraIds) {
      const h = byCamera.get(id);
      next.set(id, { device: id, kind: "camera", state: h?.state ?? "unknown", lastSeen: h?.last_seen ? Date.parse(h.last_seen) : null });
    }
    for (const d of counters) {
      const t = f.dpuSeen.get(d.id);
      const state = t === undefined ? "unknown" : now - t > this.dpuSilentMs ? "silent" : "online";
      next.set(d.id, { device: d.id, kind: d.kind, state, lastSeen: t ?? null });
    }
    const changed: DeviceState[] = [];
    for (const [id, d] of next) {
      const before = f.devices.get(id);
      if (first || !before || before.state !== d.state || before.kind !== d.kind) changed.push(d);
    }
    // The site may have been forgotten while we read (its last client left, or the one being
    // served was not registered yet): it is followed again with what was just read, and the
    // next poll forgets it if nobody is watching. A newer read started meanwhile keeps its own.
    const now2 = this.sites.get(topo.site);
    if (now2 === undefined || now2 === f) {
      f.devices = next;
      f.loaded = true;
      this.sites.set(topo.site, f);
    }
    return { all: [...next.values()], changed };
  }

  /** Newest crossing per device of the site (since `from`, or ever). */
  private async lastCrossings(site: string, from: number | undefined): Promise<Map<string, number>> {
    const where = `${q("site")} = ${escape.stringLit(site)}${from === undefined ? "" : ` AND time > ${msLit(from)}`}`;
    const rows = await this.influx.query<{ device?: unknown }>(
      `SELECT last("delta") AS "delta" FROM ${q(this.database)}.${q(RP.raw)}.${q(MEASUREMENT_CROSSINGS)} WHERE ${where} GROUP BY ${q("device")}`,
      { database: this.database },
    );
    const out = new Map<string, number>();
    for (const r of rows) if (typeof r.device === "string") out.set(r.device, r.time.getTime());
    return out;
  }
}
