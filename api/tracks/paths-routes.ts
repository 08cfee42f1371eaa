import { Router } from "express";
import { badRequest, fromService } from "../http/api-error.ts";
import { decodeCursor, encodeCursor } from "./page-cursor.ts";
import { pathItem, type PersonRow } from "./person-record.ts";
import { reprocessOr } from "../jobs/reprocess-gate.ts";
import { requireSpaceParam, siteTopology, type TrackContext } from "./track-context.ts";
import { describeFilter, parsePathsQuery, type TrackFilter } from "./track-filters.ts";

/**
 * GET /paths?site&from&to&upper&lower&zone&min_confidence&<attribute>=&limit&cursor&order
 * Persons whose track overlaps [from, to] and matches every filter, newest start first
 * (order=asc: oldest first), `limit` per page (default 100, at most 1000), `next_cursor` for the
 * next page (null on the last one).
 */
export function pathsRoutes(ctx: TrackContext): Router {
  const router = Router();

  router.get("/paths", ctx.recorder.handler("paths", async (req, q) => {
    const p = parsePathsQuery(req.query as Record<string, unknown>, q.now);
    let filter: TrackFilter = p;
    let afterNs: string | undefined;
    if (p.cursor !== undefined) {
      const c = decodeCursor(p.cursor, p, p.order);
      if ((p.explicitRange.from && p.from !== c.from) || (p.explicitRange.to && p.to !== c.to)) {
        throw badRequest("invalid query: from/to differ from the range of the cursor's first page (leave them out when passing a cursor)");
      }
      filter = { ...p, from: c.from, to: c.to };
      afterNs = c.afterNs;
    }
    q.filter({ ...describeFilter(filter), limit: p.limit, order: p.order, ...(p.cursor ? { cursor: true } : {}) });
    ctx.retention.check(filter.from, q.now);
    const topo = await siteTopology(ctx, filter.site);
    if (filter.zone !== undefined) requireSpaceParam(topo, filter.zone, "zone");
    const pending = await reprocessOr(ctx, filter, q.id, q.now);
    if (pending) return pending;

    const rows: PersonRow[] = [];
    let more = false;
    await fromService("InfluxDB", (async () => {
      const scan = ctx.persons.scan({
        filter, order: p.order, batch: p.limit + 1,
        fields: ["distance_m", "attrs", "path", "visits", "tracklets", "ended"],
        ...(afterNs === undefined ? {} : { afterNs }),
      });
      for await (const batch of scan) {
        for (const r of batch) {
          if (rows.length === p.limit) { more = true; break; }
          rows.push(r);
        }
        if (more) break;
      }
    })());
    const last = rows[rows.length - 1];
    const nextCursor = more && last ? encodeCursor(filter, p.order, last.timeNs) : null;
    return {
      status: 200,
      body: {
        ...describeFilter(filter), order: p.order, limit: p.limit,
        count: rows.length, items: rows.map(pathItem), next_cursor: nextCursor,
      },
      summary: { count: rows.length, more },
    };
  }));

  return router;
}
