import { Router } from "express";
import type { Point } from "../../contracts/geometry.ts";
import { fromService } from "../http/api-error.ts";
import { boundsOf, HeatGrid } from "./heatmap.ts";
import { pathOf } from "./person-record.ts";
import { reprocessOr } from "../jobs/reprocess-gate.ts";
import { requireSpaceParam, siteTopology, type TrackContext } from "./track-context.ts";
import { describeFilter, parseHeatmapQuery } from "./track-filters.ts";

/**
 * GET /heatmap?site&from&to&cell=1&<the filters of /paths>
 * Person-seconds per floor cell of `cell` metres (0.1..100, default 1) within [from, to]
 * (heatmap.ts): {cell, origin, width, height, counts[row][col], person_s, outside_s, persons}.
 */
export function heatmapRoutes(ctx: TrackContext): Router {
  const router = Router();

  router.get("/heatmap", ctx.recorder.handler("heatmap", async (req, q) => {
    const f = parseHeatmapQuery(req.query as Record<string, unknown>, q.now);
    q.filter({ ...describeFilter(f), cell: f.cell });
    ctx.retention.check(f.from, q.now);
    const topo = await siteTopology(ctx, f.site);
    if (f.zone !== undefined) requireSpaceParam(topo, f.zone, "zone");
    const floor = boundsOf(topo.spaces.flatMap((s) => (s.polygon ? [s.polygon as Point[]] : [])));
    const grid = new HeatGrid(f.cell, floor);
    const pending = await reprocessOr(ctx, f, q.id, q.now);
    if (pending) return pending;
    const persons = await fromService("InfluxDB", ctx.persons.forEach(f, ["path"], (r) => grid.addPath(pathOf(r), f.from, f.to), 1000));
    const map = grid.result();
    return {
      status: 200,
      body: { ...describeFilter(f), persons, ...map },
      summary: { persons, person_s: map.person_s, cells: map.width * map.height },
    };
  }));

  return router;
}
