import type { NatsConnection } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { DeviceRecord } from "../contracts/device.ts";
import { TOKEN_RE } from "../contracts/ids.ts";
import { KV_DEVICES, KV_TOPOLOGY } from "../contracts/nats-layout.ts";
import type { DeviceDef, DoorwayDef, SpaceDef, StoredTopology, TopologyDoc } from "../contracts/topology.ts";
import type { Logger } from "../infra/log.ts";
import { DeviceCredentials, sameRecord } from "./devices/device-credentials.ts";
import { docOf, removeDevice, removeDoorway, removeSpace, upsertDevice, upsertDoorway, upsertSpace } from "./edit.ts";
import { TopologyError } from "./topology-error.ts";
import { validateTopology } from "./validate.ts";

/** The outcome of a change: what is stored now, and secrets generated for devices (shown once, never stored). */
export interface TopologyChange {
  topology: StoredTopology;
  generatedSecrets: Record<string, string>;
  /** the topology before the change (undefined: the site is new) */
  previous: StoredTopology | undefined;
}

/** A per-entity change also says whether the entity was created (else replaced or removed). */
export interface EntityChange extends TopologyChange { created: boolean }

const MAX_ATTEMPTS = 10;
/** KV requests in flight at once for one change (an import may name thousands of devices). */
const KV_CONCURRENCY = 128;

async function eachInBatches<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += KV_CONCURRENCY) await Promise.all(items.slice(i, i + KV_CONCURRENCY).map(fn));
}

interface KnownDevice { record?: DeviceRecord; revision?: number }

const isConflict = (e: unknown) =>
  (e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) ||
  /wrong last sequence/i.test((e as Error)?.message ?? "");

const enc = (v: unknown) => JSON.stringify(v);

/**
 * Sites' topologies (KV ff_topology, key = site, no secrets) and the device registry they feed
 * (KV ff_devices, key = device id, secret hashes only). Every change is read-modify-validate-write:
 * device records first, then the topology under a revision check (retried on conflict), then the
 * records of devices the site no longer has are deleted.
 */
export class TopologyStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly topologies: KV,
    private readonly devices: KV,
    private readonly log?: Logger,
  ) {}

  /** Opens the buckets (created by provisionNats). */
  static async open(nc: NatsConnection, log?: Logger): Promise<TopologyStore> {
    const kvm = new Kvm(nc);
    const [topologies, devices] = await Promise.all([kvm.open(KV_TOPOLOGY), kvm.open(KV_DEVICES)]);
    return new TopologyStore(nc, topologies, devices, log);
  }

  async get(site: string): Promise<StoredTopology | undefined> {
    if (!TOKEN_RE.test(site)) return undefined;
    const e = await this.topologies.get(site);
    return e && e.operation === "PUT" ? e.json<StoredTopology>() : undefined;
  }

  /** Every site that has a topology, sorted. */
  async list(): Promise<string[]> {
    const sites: string[] = [];
    for await (const k of await this.topologies.keys()) sites.push(k);
    return sites.sort();
  }

  /** Replaces a site's whole topology. */
  put(site: string, doc: TopologyDoc): Promise<TopologyChange> {
    return this.apply(site, () => doc);
  }

  async upsertSpace(site: string, space: SpaceDef): Promise<EntityChange> {
    const c = await this.apply(site, (d) => upsertSpace(d, space));
    return { ...c, created: !c.previous?.spaces.some((s) => s.id === space.id) };
  }

  async deleteSpace(site: string, id: string): Promise<TopologyChange> {
    return this.apply(site, (d, exists) => removeSpace(this.mustExist(d, exists, site), site, id));
  }

  async upsertDoorway(site: string, doorway: DoorwayDef): Promise<EntityChange> {
    const c = await this.apply(site, (d) => upsertDoorway(d, doorway));
    return { ...c, created: !c.previous?.doorways.some((s) => s.id === doorway.id) };
  }

  async deleteDoorway(site: string, id: string): Promise<TopologyChange> {
    return this.apply(site, (d, exists) => removeDoorway(this.mustExist(d, exists, site), site, id));
  }

  async upsertDevice(site: string, device: DeviceDef): Promise<EntityChange> {
    const c = await this.apply(site, (d) => upsertDevice(d, device));
    return { ...c, created: !c.previous?.devices.some((s) => s.id === device.id) };
  }

  async deleteDevice(site: string, id: string): Promise<TopologyChange> {
    return this.apply(site, (d, exists) => removeDevice(this.mustExist(d, exists, site), site, id));
  }

  /** True when NATS answers within timeoutMs (for /healthz). */
  async reachable(timeoutMs = 1000): Promise<boolean> {
    if (this.nc.isClosed()) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
    try {
      return await Promise.race([this.nc.flush().then(() => true, () => false), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private mustExist(doc: TopologyDoc, exists: boolean, site: string): TopologyDoc {
    if (!exists) throw new TopologyError("not_found", [`site "${site}" has no topology`]);
    return doc;
  }

  private async readDevice(id: string): Promise<KnownDevice> {
    const e = await this.devices.get(id);
    if (!e) return {};
    if (e.operation !== "PUT") return { revision: e.revision };
    const parsed = DeviceRecord.safeParse(e.json());
    if (!parsed.success) {
      this.log?.warn({ device: id }, "unreadable device record, it will be replaced");
      return { revision: e.revision };
    }
    return { record: parsed.data, revision: e.revision };
  }

  private async writeDevice(record: DeviceRecord, known: KnownDevice): Promise<void> {
    if (known.record && sameRecord(known.record, record)) return;
    if (known.revision !== undefined) await this.devices.update(record.id, enc(record), known.revision);
    else await this.devices.create(record.id, enc(record));
  }

  private async apply(site: string, edit: (current: TopologyDoc, exists: boolean) => TopologyDoc): Promise<TopologyChange> {
    if (!TOKEN_RE.test(site)) throw new TopologyError("invalid", [`site id "${site}" must be 1-64 characters of A-Z a-z 0-9 _ -`]);
    const credentials = new DeviceCredentials();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const entry = await this.topologies.get(site);
      const previous = entry && entry.operation === "PUT" ? entry.json<StoredTopology>() : undefined;
      const doc = edit(docOf(previous), previous !== undefined);

      const known = new Map<string, KnownDevice>();
      await eachInBatches(doc.devices, async (d) => { known.set(d.id, await this.readDevice(d.id)); });
      const verdict = validateTopology(site, doc, (id) => known.get(id)?.record);
      if (!verdict.ok) throw new TopologyError("invalid", verdict.errors);

      const generatedSecrets: Record<string, string> = {};
      const writes: Array<{ record: DeviceRecord; k: KnownDevice }> = [];
      for (const def of doc.devices) {
        const k = known.get(def.id) ?? {};
        const { record, generated } = await credentials.recordFor(site, def, k.record);
        if (generated !== undefined) generatedSecrets[def.id] = generated;
        writes.push({ record, k });
      }
      const topology: StoredTopology = {
        site,
        spaces: doc.spaces,
        doorways: doc.doorways,
        devices: doc.devices.map(({ secret: _secret, ...d }) => d),
        ...(doc.integrations ? { integrations: doc.integrations } : {}),
        updatedAt: new Date().toISOString(),
      };
      try {
        await eachInBatches(writes, ({ record, k }) => this.writeDevice(record, k));
        if (entry) await this.topologies.update(site, enc(topology), entry.revision);
        else await this.topologies.create(site, enc(topology));
      } catch (e) {
        if (!isConflict(e)) throw e;
        this.log?.debug({ site, attempt }, "topology changed concurrently, retrying");
        continue;
      }

      const kept = new Set(doc.devices.map((d) => d.id));
      for (const gone of previous?.devices ?? []) {
        if (kept.has(gone.id)) continue;
        const k = await this.readDevice(gone.id);
        if (k.record?.site === site) await this.devices.delete(gone.id);
      }
      this.log?.info({ site, spaces: doc.spaces.length, doorways: doc.doorways.length, devices: doc.devices.length }, "topology stored");
      return { topology, generatedSecrets, previous };
    }
    throw new TopologyError("contended", [`site "${site}" is being changed concurrently; try again`]);
  }
}
