import { Router } from "express";
import { OUTSIDE, SiteId, SpaceId } from "../../contracts/ids.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import type { TopologyStore } from "../../topology/topology-store.ts";
import { fromService, notFound, parseOr400 } from "../http/api-error.ts";
import type { CountSeries, OccupancyReader } from "./occupancy-reader.ts";
import { MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import { formatStep, isoDate, readDayRange, readInstant, readSeriesRange } from "../http/time-range.ts";

/**
 * Occupancy queries (public):
 *   GET /sites/{site}/spaces/{space}/count[?at]    count holding at an instant (now by default)
 *   GET /sites/{site}/spaces/{space}/series?from&to&step
 *   GET /sites/{site}/spaces/{space}/daily?from&to
 *   GET /sites/{site}/count[?at]                   the site's total
 * Only sites and spaces of a stored topology are answered; anything else is 404.
 */
export function occupancyRoutes(deps: { reader: OccupancyReader; topology: TopologyStore; now?: () => number }): Router {
  const now = deps.now ?? Date.now;
  const router = Router();

  async function siteOf(rawSite: unknown): Promise<StoredTopology> {
    const site = parseOr400(SiteId, rawSite, "site id");
    const t = await fromService("the topology store", deps.topology.get(site));
    if (!t) throw notFound(`site "${site}" has no topology`);
    return t;
  }

  async function spaceSeries(rawSite: unknown, rawSpace: unknown): Promise<CountSeries & { measurement: typeof MEASUREMENT_OCCUPANCY }> {
    const space = parseOr400(SpaceId, rawSpace, "space id");
    const t = await siteOf(rawSite);
    if (space === OUTSIDE) throw notFound(`"${OUTSIDE}" is the implied space around site "${t.site}"; it is not counted`);
    if (!t.spaces.some((s) => s.id === space)) throw notFound(`space "${space}" is not part of site "${t.site}"`);
    return { measurement: MEASUREMENT_OCCUPANCY, site: t.site, space };
  }

  router.get("/sites/:site/spaces/:space/count", async (req, res) => {
    const series = await spaceSeries(req.params.site, req.params.space);
    const t = now();
    const at = readInstant(req.query.at, "at", t, t);
    const count = await fromService("InfluxDB", deps.reader.countAt(series, at));
    res.json({ site: series.site, space: series.space, count, at: new Date(at).toISOString() });
  });

  router.get("/sites/:site/spaces/:space/series", async (req, res) => {
    const series = await spaceSeries(req.params.site, req.params.space);
    const range = readSeriesRange(req.query, now());
    const points = await fromService("InfluxDB", deps.reader.series(series, range));
    res.json({
      site: series.site, space: series.space,
      from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), step: formatStep(range.step),
      points: points.map((p) => ({ t: new Date(p.t).toISOString(), count: p.count })),
    });
  });

  router.get("/sites/:site/spaces/:space/daily", async (req, res) => {
    const series = await spaceSeries(req.params.site, req.params.space);
    const t = now();
    const range = readDayRange(req.query, t);
    const days = await fromService("InfluxDB", deps.reader.daily(series, range, t));
    res.json({ site: series.site, space: series.space, from: isoDate(range.firstDay), to: isoDate(range.lastDay), days });
  });

  router.get("/sites/:site/count", async (req, res) => {
    const topo = await siteOf(req.params.site);
    const t = now();
    const at = readInstant(req.query.at, "at", t, t);
    const count = await fromService("InfluxDB", deps.reader.countAt({ measurement: MEASUREMENT_SITE_OCCUPANCY, site: topo.site }, at));
    res.json({ site: topo.site, count, at: new Date(at).toISOString() });
  });

  return router;
}
