import { z } from "zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { SiteId, SpaceId } from "../../contracts/ids.ts";
import type { Logger } from "../../infra/log.ts";
import { TopologyWatch } from "../../topology/topology-watch.ts";

/** What the results need of a site's topology: its spaces' names and capacities, and its switches. */
export interface SiteInfo {
  site: string;
  spaces: ReadonlyMap<string, { name: string; capacity: number | null }>;
  homeAssistant: boolean;
}

/** Called with a site's new and previous info (undefined: no such site, or it was deleted). */
export type SiteChange = (site: string, now: SiteInfo | undefined, before: SiteInfo | undefined) => void;

const StoredSite = z.object({
  site: SiteId,
  spaces: z.array(z.object({ id: SpaceId, name: z.string(), capacity: z.number().int().positive().optional() })),
  integrations: z.object({ homeAssistant: z.boolean().optional() }).optional(),
});

/**
 * Every site's space names, capacities and integration switches, from KV ff_topology (loaded
 * before open() returns, then kept current by a watch); each change is handed to `onChange`.
 */
export class SiteDirectory {
  private readonly sites = new Map<string, SiteInfo>();
  private watch: TopologyWatch | undefined;
  private onChange: SiteChange | undefined;

  private constructor(private readonly log?: Logger) {}

  static async open(nc: NatsConnection, log?: Logger): Promise<SiteDirectory> {
    const d = new SiteDirectory(log);
    d.watch = await TopologyWatch.open(nc, (site, revision, json) => d.apply(site, revision, json), log);
    return d;
  }

  /** From now on, every change is reported (sites loaded before are in all()). */
  follow(onChange: SiteChange): void {
    this.onChange = onChange;
  }

  get(site: string): SiteInfo | undefined {
    return this.sites.get(site);
  }

  all(): IterableIterator<SiteInfo> {
    return this.sites.values();
  }

  close(): void {
    this.watch?.close();
    this.onChange = undefined;
  }

  private apply(site: string, revision: number, json: unknown): void {
    const before = this.sites.get(site);
    if (json === undefined) {
      if (!before) return;
      this.sites.delete(site);
      this.onChange?.(site, undefined, before);
      return;
    }
    const parsed = StoredSite.safeParse(json);
    if (!parsed.success || parsed.data.site !== site) {
      this.log?.warn({ site, revision, reason: parsed.success ? "stored under another site's key" : z.prettifyError(parsed.error) },
        "topology value unusable for results; keeping the previous one");
      return;
    }
    const now: SiteInfo = {
      site,
      spaces: new Map(parsed.data.spaces.map((s) => [s.id, { name: s.name, capacity: s.capacity ?? null }])),
      homeAssistant: parsed.data.integrations?.homeAssistant === true,
    };
    this.sites.set(site, now);
    this.onChange?.(site, now, before);
  }
}
