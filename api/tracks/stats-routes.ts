import { Router } from "express";
import { fromService } from "../http/api-error.ts";
import { distanceOf } from "./person-record.ts";
import { reprocessOr } from "../jobs/reprocess-gate.ts";
import { requireSpaceParam, siteTopology, type TrackContext } from "./track-context.ts";
import { describeFilter, parseDistanceQuery, parseDwellQuery } from "./track-filters.ts";
import { NumberList, round3, summarize } from "./track-stats.ts";

/**
 * GET /stats/distance?<the filters of /paths>  distance walked by the matching persons (each
 *     person's whole track, also the part outside [from, to]): count, mean, median, p90, min, max (m)
 * GET /stats/dwell?site&space&from&to          time spent in a space by the visits that entered it
 *     within [from, to] (closed visits, zone_visit): count, mean, median, p90, min, max (s)
 * Percentiles interpolate between closest ranks (track-stats.ts); figures are null without data.
 */
export function statsRoutes(ctx: TrackContext): Router {
  const router = Router();

  router.get("/stats/distance", ctx.recorder.handler("distance", async (req, q) => {
    const f = parseDistanceQuery(req.query as Record<string, unknown>, q.now);
    q.filter(describeFilter(f));
    ctx.retention.check(f.from, q.now);
    const topo = await siteTopology(ctx, f.site);
    if (f.zone !== undefined) requireSpaceParam(topo, f.zone, "zone");
    const pending = await reprocessOr(ctx, f, q.id, q.now);
    if (pending) return pending;
    const distances = new NumberList();
    await fromService("InfluxDB", ctx.persons.forEach(f, ["distance_m"], (r) => distances.push(distanceOf(r))));
    const s = summarize(distances.values());
    const stats = { count: s.count, mean_m: round3(s.mean), median_m: round3(s.median), p90_m: round3(s.p90), min_m: round3(s.min), max_m: round3(s.max) };
    return { status: 200, body: { ...describeFilter(f), ...stats }, summary: stats };
  }));

  router.get("/stats/dwell", ctx.recorder.handler("dwell", async (req, q) => {
    const d = parseDwellQuery(req.query as Record<string, unknown>, q.now);
    const range = { from: new Date(d.from).toISOString(), to: new Date(d.to).toISOString() };
    q.filter({ site: d.site, space: d.space, ...range });
    ctx.retention.check(d.from, q.now);
    requireSpaceParam(await siteTopology(ctx, d.site), d.space, "space");
    const s = summarize(await fromService("InfluxDB", ctx.zones.dwells(d.site, d.space, d.from, d.to)));
    const stats = { count: s.count, mean_s: round3(s.mean), median_s: round3(s.median), p90_s: round3(s.p90), min_s: round3(s.min), max_s: round3(s.max) };
    return { status: 200, body: { site: d.site, space: d.space, ...range, ...stats }, summary: stats };
  }));

  return router;
}
