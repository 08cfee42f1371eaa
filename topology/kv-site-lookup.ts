import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { DeviceDef, SpaceDef, type StoredTopology } from "../contracts/topology.ts";
import type { Logger } from "../infra/log.ts";
import { siteGeometry, type CameraView, type SiteGeometry, type SiteLookup } from "./site-geometry.ts";
import { TopologyWatch } from "./topology-watch.ts";

const StoredGeometry = z.object({
  site: z.string(),
  spaces: z.array(SpaceDef),
  devices: z.array(DeviceDef.omit({ secret: true })),
});

/** Every site's camera geometry (SiteGeometry), from KV ff_topology, kept current by a watch. */
export class KvSiteLookup implements SiteLookup {
  private readonly sites = new Map<string, SiteGeometry>();
  private watch: TopologyWatch | undefined;

  private constructor(private readonly log?: Logger) {}

  static async open(nc: NatsConnection, log?: Logger): Promise<KvSiteLookup> {
    const lookup = new KvSiteLookup(log);
    lookup.watch = await TopologyWatch.open(nc, (site, revision, json) => lookup.apply(site, revision, json), log);
    return lookup;
  }

  site(site: string): SiteGeometry | undefined { return this.sites.get(site); }
  camera(site: string, camera: string): CameraView | undefined { return this.sites.get(site)?.cameras.get(camera); }

  refresh(site: string): Promise<void> { return this.watch ? this.watch.refresh(site) : Promise.resolve(); }

  close(): void { this.watch?.close(); }

  private apply(site: string, revision: number, json: unknown): void {
    if (json === undefined) {
      this.sites.delete(site);
      return;
    }
    const parsed = StoredGeometry.safeParse(json);
    if (!parsed.success || parsed.data.site !== site) {
      this.log?.warn({ site, revision, reason: parsed.success ? "stored under another site's key" : z.prettifyError(parsed.error) },
        "topology value unusable for camera geometry; keeping the previous one");
      return;
    }
    this.sites.set(site, siteGeometry(parsed.data as Pick<StoredTopology, "site" | "spaces" | "devices">));
    this.log?.debug({ site, revision, cameras: this.sites.get(site)!.cameras.size }, "site geometry loaded");
  }
}
