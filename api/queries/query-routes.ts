import { Router } from "express";
import { z } from "zod";
import { fromService, notFound, parseOr400 } from "../http/api-error.ts";
import { mayReadRecord } from "../http/access.ts";
import { ID_RE, querySite } from "./query-history.ts";
import type { TrackContext } from "../tracks/track-context.ts";
import { text } from "../tracks/track-filters.ts";

/**
 * The query history (query-history.ts):
 *   GET /queries?limit&before   records newest first, without results: limit 1..200 (default 50);
 *                               before = a query id (exclusive), e.g. next_before of the previous page
 *   GET /queries/{id}           one record with its stored result
 * Only queries of sites the caller may read are listed or answered (another site's query is 404,
 * as an unknown one); a refused query that named no site is seen only by who reads every site.
 */
export const DEFAULT_LIST = 50;
export const MAX_LIST = 200;

const ListParams = z.strictObject({
  limit: text("limit").regex(/^\d{1,4}$/, "limit must be a whole number").transform(Number)
    .pipe(z.number().int().min(1, "limit must be at least 1").max(MAX_LIST, `limit must be at most ${MAX_LIST}`)).optional(),
  before: text("before").regex(ID_RE, "before must be a query id (next_before of the previous page)").optional(),
});

export function queryRoutes(ctx: TrackContext): Router {
  const router = Router();

  router.get("/queries", async (req, res) => {
    const p = parseOr400(ListParams, req.query, "query");
    const limit = p.limit ?? DEFAULT_LIST;
    const queries = await fromService("the query history", ctx.history.list(limit, p.before, Date.now(), (r) => mayReadRecord(res, querySite(r))));
    const last = queries[queries.length - 1];
    res.json({ count: queries.length, queries, next_before: queries.length === limit && last ? last.id : null });
  });

  router.get("/queries/:id", async (req, res) => {
    const id = parseOr400(z.object({ id: text("id").regex(ID_RE, "not a query id") }), req.params, "path").id;
    const found = await fromService("the query history", ctx.history.get(id));
    if (!found || !mayReadRecord(res, querySite(found.record))) throw notFound(`no query "${id}" in the history (it may be older than 30 days)`);
    res.json({ ...found.record, result: found.result, ...(found.kept ? { kept: found.kept } : {}) });
  });

  return router;
}
