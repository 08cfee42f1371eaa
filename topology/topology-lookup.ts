import { z } from "zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { DoorwayId, SiteId, SpaceId } from "../contracts/ids.ts";
import type { StoredTopology } from "../contracts/topology.ts";
import type { Logger } from "../infra/log.ts";
import { TopologyWatch } from "./topology-watch.ts";

export interface DoorwayEnds { entering_to: string; exiting_to: string }

/** Where a doorway leads (for the doorway actor) and how many a space may hold (for the space actor). */
export interface TopologyLookup {
  doorway(site: string, doorwayId: string): { entering_to: string; exiting_to: string } | undefined;
  /** the space's capacity, if the topology gives one */
  capacity(site: string, spaceId: string): number | undefined;
  /** reads the site's topology from its store now (a lookup that follows changes may lag behind it); throws when the store cannot be read */
  refresh?(site: string): Promise<void>;
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
  private sites = new Map<string, SiteDoorways>();
  private watch: TopologyWatch | undefined;

  private constructor(private readonly log?: Logger) {}

  static async open(nc: NatsConnection, log?: Logger): Promise<KvTopologyLookup> {
    const lookup = new KvTopologyLookup(log);
    lookup.watch = await TopologyWatch.open(nc, (site, revision, json) => lookup.apply(site, revision, json), log);
    return lookup;
  }

  doorway(site: string, doorwayId: string): DoorwayEnds | undefined {
    return this.sites.get(site)?.doorways.get(doorwayId);
  }

  capacity(site: string, spaceId: string): number | undefined {
    return this.sites.get(site)?.capacities.get(spaceId);
  }

  refresh(site: string): Promise<void> {
    return this.watch ? this.watch.refresh(site) : Promise.resolve();
  }

  /** Sites currently known. */
  siteIds(): string[] {
    return [...this.sites.keys()];
  }

  close(): void {
    this.watch?.close();
  }

  private apply(site: string, revision: number, json: unknown): void {
    if (json === undefined) {
      this.sites.delete(site);
      this.log?.info({ site, revision }, "topology removed");
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
    this.sites.set(site, indexSite(parsed.data));
    this.log?.debug({ site, revision, doorways: parsed.data.doorways.length }, "topology loaded");
  }
}
