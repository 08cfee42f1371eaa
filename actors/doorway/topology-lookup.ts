import { z } from "zod";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { DoorwayId, SiteId, SpaceId } from "../../contracts/ids.ts";
import { KV_TOPOLOGY } from "../../contracts/nats-layout.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import type { Logger } from "../../infra/log.ts";

export interface DoorwayEnds { entering_to: string; exiting_to: string }

/** Where a doorway leads (for the doorway actor) and how many a space may hold (for the space actor). */
export interface TopologyLookup {
  doorway(site: string, doorwayId: string): { entering_to: string; exiting_to: string } | undefined;
  /** the space's capacity, if the topology gives one */
  capacity(site: string, spaceId: string): number | undefined;
}

/** What the occupancy actors need of a stored topology; other fields are not their business. */
const StoredDoorways = z.object({
  site: SiteId,
  spaces: z.array(z.object({ id: SpaceId, capacity: z.number().int().positive().optional() })).default([]),
  doorways: z.array(z.object({ id: DoorwayId, entering_to: SpaceId, exiting_to: SpaceId })),
});

interface SiteDoorways { doorways: Map<string, DoorwayEnds>; capacities: Map<string, number> }

function indexSite(t: { spaces?: ReadonlyArray<{ id: string; capacity?: number | undefined }>; doorways: ReadonlyArray<{ id: string; entering_to: string; exiting_to: string }> }): SiteDoorways {
  return {
    doorways: new Map(t.doorways.map((d) => [d.id, { entering_to: d.entering_to, exiting_to: d.exiting_to }])),
    capacities: new Map((t.spaces ?? []).flatMap((s) => (s.capacity === undefined ? [] : [[s.id, s.capacity] as const]))),
  };
}

/** A fixed topology (tests, tools). */
export class StaticTopologyLookup implements TopologyLookup {
  private sites = new Map<string, SiteDoorways>();

  constructor(topologies: ReadonlyArray<Pick<StoredTopology, "site" | "doorways"> & Partial<Pick<StoredTopology, "spaces">>>) {
    for (const t of topologies) this.sites.set(t.site, indexSite(t));
  }

  doorway(site: string, doorwayId: string): DoorwayEnds | undefined {
    return this.sites.get(site)?.doorways.get(doorwayId);
  }

  capacity(site: string, spaceId: string): number | undefined {
    return this.sites.get(site)?.capacities.get(spaceId);
  }
}

/**
 * The topology of every site from KV ff_topology (key = site id, value = StoredTopology JSON),
 * loaded before open() returns and kept current by a watch. A value that does not parse is
 * logged and ignored (the site keeps its previous topology); a deleted key removes the site.
 */
export class KvTopologyLookup implements TopologyLookup {
  private sites = new Map<string, { revision: number; doorways: SiteDoorways }>();
  /** newest bucket revision applied: a re-opened watch resumes after it */
  private lastRevision = 0;
  private closed = false;
  private stopWatch: (() => void) | undefined;

  private constructor(private readonly log?: Logger) {}

  static async open(nc: NatsConnection, log?: Logger): Promise<KvTopologyLookup> {
    const lookup = new KvTopologyLookup(log);
    const kv = await new Kvm(nc).open(KV_TOPOLOGY);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await kv.get(k);
      if (e) lookup.apply(e.key, e.revision, e.operation, e.value);
    }
    const first = await kv.watch();
    lookup.stopWatch = () => first.stop();
    void lookup.follow(nc, kv, first);
    return lookup;
  }

  doorway(site: string, doorwayId: string): DoorwayEnds | undefined {
    return this.sites.get(site)?.doorways.doorways.get(doorwayId);
  }

  capacity(site: string, spaceId: string): number | undefined {
    return this.sites.get(site)?.doorways.capacities.get(spaceId);
  }

  /** Sites currently known. */
  siteIds(): string[] {
    return [...this.sites.keys()];
  }

  close(): void {
    this.closed = true;
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  /** Applies the watch; if it ever ends (e.g. its consumer vanished with a restarted server), watches again from the next revision. */
  private async follow(nc: NatsConnection, kv: KV, first: Awaited<ReturnType<KV["watch"]>>): Promise<void> {
    let it: Awaited<ReturnType<KV["watch"]>> | undefined = first;
    while (!this.closed && !nc.isClosed()) {
      try {
        if (!it) {
          it = await kv.watch({ resumeFromRevision: this.lastRevision + 1 });
          const current = it;
          this.stopWatch = () => current.stop();
          if (this.closed) current.stop();
        }
        for await (const e of it) this.apply(e.key, e.revision, e.operation, e.value);
      } catch (err) {
        this.log?.warn({ err: (err as Error).message }, "topology watch failed; watching again");
      }
      it = undefined;
      if (!this.closed) await new Promise((r) => setTimeout(r, 500));
    }
  }

  private apply(site: string, revision: number, operation: string, value: Uint8Array): void {
    if (revision > this.lastRevision) this.lastRevision = revision;
    const known = this.sites.get(site);
    if (known && known.revision >= revision) return;
    if (operation !== "PUT") {
      this.sites.delete(site);
      this.log?.info({ site, revision }, "topology removed");
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(value));
    } catch (err) {
      this.log?.warn({ site, revision, reason: (err as Error).message }, "topology value is not JSON; keeping the previous one");
      return;
    }
    const parsed = StoredDoorways.safeParse(json);
    if (!parsed.success) {
      this.log?.warn({ site, revision, reason: z.prettifyError(parsed.error) }, "topology value invalid; keeping the previous one");
      return;
    }
    if (parsed.data.site !== site) {
      this.log?.warn({ site, revision, stored: parsed.data.site }, "topology stored under another site's key; ignored");
      return;
    }
    this.sites.set(site, { revision, doorways: indexSite(parsed.data) });
    this.log?.debug({ site, revision, doorways: parsed.data.doorways.length }, "topology loaded");
  }
}
