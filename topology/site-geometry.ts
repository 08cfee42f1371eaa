import type { Point } from "../contracts/geometry.ts";
import type { CountingLine, StoredTopology } from "../contracts/topology.ts";
import { fitHomography, type Homography } from "./geometry/homography.ts";
import { pointInPolygon } from "./geometry/polygon.ts";

/** What the camera pipeline's actors need of a site's topology, pre-computed once per topology revision. */
export interface CameraView {
  id: string;
  site: string;
  /** image pixels -> floor metres, fitted from the camera's calibration */
  toFloor: Homography;
  /** spaces the camera looks into */
  sees: string[];
  /** neighbour camera id -> walking time window in seconds (0..x when the views overlap) */
  neighbours: Map<string, { min_s: number; max_s: number }>;
  lines: CountingLine[];
}

export interface SpaceOutline { id: string; polygon: Point[] }

export interface LineOnFloor extends CountingLine {
  camera: string;
  /** the space whose outline holds the line's midpoint (its zone actor counts the line), if any */
  space: string | undefined;
}

export interface SiteGeometry {
  site: string;
  cameras: Map<string, CameraView>;
  /** spaces that have a polygon */
  outlines: SpaceOutline[];
  lines: LineOnFloor[];
  /** the space whose polygon contains the point (the first listed, if outlines overlap) */
  spaceAt(p: Point): string | undefined;
}

/** Looks up a site's geometry (tests: StaticSiteLookup; actor hosts: KvSiteLookup in kv-site-lookup.ts). */
export interface SiteLookup {
  site(site: string): SiteGeometry | undefined;
  camera(site: string, camera: string): CameraView | undefined;
  /** reads the site's topology from its store now (a lookup that follows changes may lag behind it); throws when the store cannot be read */
  refresh?(site: string): Promise<void>;
}

/**
 * Runs `then` on the topology as it is in the store when the lookup does not know the camera yet
 * (the topology a host follows may lag behind the store), else at once. When the store cannot be
 * read, `unread` is told and `then` runs on the topology the lookup has.
 */
export function withCamera<T>(sites: SiteLookup, site: string, camera: string, then: () => T, unread: (err: unknown) => void): T | Promise<T> {
  if (!sites.refresh || sites.camera(site, camera)) return then();
  return sites.refresh(site).then(then, (err: unknown) => {
    unread(err);
    return then();
  });
}

/**
 * Derives the geometry of a stored topology. Cameras whose calibration does not fit are left out
 * (validation refuses such topologies, so this only guards against hand-edited KV values).
 */
export function siteGeometry(t: Pick<StoredTopology, "site" | "spaces" | "devices">): SiteGeometry {
  const cameras = new Map<string, CameraView>();
  for (const d of t.devices) {
    if (d.kind !== "camera" || !d.calibration) continue;
    let toFloor: Homography;
    try {
      toFloor = fitHomography(d.calibration.image_points as Point[], d.calibration.floor_points as Point[]);
    } catch {
      continue;
    }
    cameras.set(d.id, {
      id: d.id,
      site: t.site,
      toFloor,
      sees: d.sees ?? [],
      neighbours: new Map((d.neighbours ?? []).map((n) => [n.camera, { min_s: n.min_s, max_s: n.max_s }])),
      lines: d.lines ?? [],
    });
  }
  const outlines: SpaceOutline[] = t.spaces.flatMap((s) => (s.polygon ? [{ id: s.id, polygon: s.polygon as Point[] }] : []));
  const spaceAt = (p: Point) => outlines.find((o) => pointInPolygon(p, o.polygon))?.id;
  const lines: LineOnFloor[] = [...cameras.values()].flatMap((c) =>
    c.lines.map((l) => ({ ...l, camera: c.id, space: spaceAt([(l.a[0] + l.b[0]) / 2, (l.a[1] + l.b[1]) / 2]) })));
  return { site: t.site, cameras, outlines, lines, spaceAt };
}

/** A fixed set of topologies (tests, tools). */
export class StaticSiteLookup implements SiteLookup {
  private readonly sites = new Map<string, SiteGeometry>();
  constructor(topologies: ReadonlyArray<Pick<StoredTopology, "site" | "spaces" | "devices">>) {
    for (const t of topologies) this.sites.set(t.site, siteGeometry(t));
  }
  site(site: string): SiteGeometry | undefined { return this.sites.get(site); }
  camera(site: string, camera: string): CameraView | undefined { return this.sites.get(site)?.cameras.get(camera); }
}
