import { Router } from "express";
import type { InfluxDB } from "influx";
import { OUTSIDE, SiteId, SpaceId } from "../../contracts/ids.ts";
import { MEASUREMENT_OCCUPANCY, MEASUREMENT_SITE_OCCUPANCY } from "../../contracts/occupancy-store.ts";
import { MAX_TS, MIN_TS } from "../../contracts/time.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import type { TopologyStore } from "../../topology/topology-store.ts";
import { badRequest, fromService, notFound, parseOr400 } from "../http/api-error.ts";
import { DAY_MS, readInstant } from "../http/time-range.ts";
import type { CountSeries } from "./occupancy-reader.ts";
import { SiteFigures } from "./site-figures.ts";
import { HOUR_MS, USUAL_WEEKS } from "./usual-band.ts";

/** Most hours one usual request answers (31 days). */
export const MAX_USUAL_HOURS = 31 * 24;
/** Longest flow range (days). */
export const MAX_FLOW_DAYS = 366;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Figures a wall shows beside the live counts:
 *   GET /sites/{site}/usual?from&to[&space]   per UTC hour overlapping [from, to) (default: the last
 *       hour up to now): median, p10 and p90 of the same weekday and hour in the last four weeks
 *       (usual-band.ts), of the site total or of `space`
 *   GET /sites/{site}/flow?from&to            people in and out of the site and of each space in
 *       [from, to) (default: the last hour), from the raw crossings
 * Only sites (and spaces) of a stored topology are answered; anything else is 404.
 */
export function usualFlowRoutes(deps: { influx: InfluxDB; database: string; topology: TopologyStore; now?: () => number }): Router {
  const now = deps.now ?? Date.now;
  const figures = new SiteFigures(deps.influx, deps.database);
  const router = Router();

  async function siteOf(rawSite: unknown): Promise<StoredTopology> {
    const site = parseOr400(SiteId, rawSite, "site id");
    const t = await fromService("the topology store", deps.topology.get(site));
    if (!t) throw notFound(`site "${site}" has no topology`);
    return t;
  }

  function range(q: Record<string, unknown>): { from: number; to: number } {
    const t = now();
    const to = readInstant(q.to, "to", t, t);
    const from = readInstant(q.from, "from", to - HOUR_MS, t);
    if (from > to) throw badRequest("from must not be after to");
    if (from < MIN_TS || to > MAX_TS) throw badRequest("from and to must lie between 2000-01-01 and 2100-01-01");
    return { from, to };
  }

  router.get("/sites/:site/usual", async (req, res) => {
    const topo = await siteOf(req.params.site);
    let series: CountSeries = { measurement: MEASUREMENT_SITE_OCCUPANCY, site: topo.site };
    if (req.query.space !== undefined) {
      const space = parseOr400(SpaceId, req.query.space, "space id");
      if (space === OUTSIDE) throw notFound(`"${OUTSIDE}" is the implied space around site "${topo.site}"; it is not counted`);
      if (!topo.spaces.some((s) => s.id === space)) throw notFound(`space "${space}" is not part of site "${topo.site}"`);
      series = { measurement: MEASUREMENT_OCCUPANCY, site: topo.site, space };
    }
    const { from, to } = range(req.query);
    const hours: number[] = [];
    for (let h = Math.floor(from / HOUR_MS) * HOUR_MS; from < to && h < to; h += HOUR_MS) {
      if (hours.length === MAX_USUAL_HOURS) throw badRequest(`from..to spans more than ${MAX_USUAL_HOURS} hours`);
      hours.push(h);
    }
    const band = hours.length === 0 ? { weeks: 0, hours: [] } : await fromService("InfluxDB", figures.usual(series, hours));
    res.json({
      site: topo.site, ...(series.measurement === MEASUREMENT_OCCUPANCY ? { space: series.space } : {}),
      from: iso(from), to: iso(to), value: "mean", of_weeks: USUAL_WEEKS, weeks: band.weeks,
      hours: band.hours.map((h) => ({ t: iso(h.t), median: h.median, p10: h.p10, p90: h.p90, weeks: h.weeks })),
    });
  });

  router.get("/sites/:site/flow", async (req, res) => {
    const topo = await siteOf(req.params.site);
    const { from, to } = range(req.query);
    if (to - from > MAX_FLOW_DAYS * DAY_MS) throw badRequest(`from..to spans more than ${MAX_FLOW_DAYS} days`);
    const flow = await fromService("InfluxDB", figures.flow(topo.site, topo.doorways, topo.spaces.map((s) => s.id), from, to));
    res.json({ site: topo.site, from: iso(from), to: iso(to), in: flow.in, out: flow.out, spaces: flow.spaces });
  });

  return router;
}
