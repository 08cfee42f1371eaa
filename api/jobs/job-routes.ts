import { Router } from "express";
import { z } from "zod";
import { fromService, notFound, parseOr400 } from "../http/api-error.ts";
import { mayReadRecord } from "../http/access.ts";
import { JOB_ID_RE, jobView } from "./jobs.ts";
import type { TrackContext } from "../tracks/track-context.ts";
import { text } from "../tracks/track-filters.ts";

/**
 * GET /jobs/{id}: a reprocessing job (jobs.ts, job-runner.ts): {id, site, attribute, from, to,
 * ranges, state: queued | running | done | failed, phase?, progress {done, total} (persons),
 * created, started?, finished?, error?, persons?, query_id?, href}. A job of a site the caller may
 * not read answers 404, as an unknown job does.
 */
export function jobRoutes(ctx: TrackContext): Router {
  const router = Router();

  router.get("/jobs/:id", async (req, res) => {
    const id = parseOr400(z.object({ id: text("id").regex(JOB_ID_RE, "not a job id") }), req.params, "path").id;
    const stored = await fromService("the job store", ctx.jobs.get(id));
    if (!stored || !mayReadRecord(res, stored.job.site)) throw notFound(`no job "${id}" (jobs are kept 30 days)`);
    res.json(jobView(stored.job));
  });

  return router;
}
