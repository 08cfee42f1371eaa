import { fromService } from "../http/api-error.ts";
import type { QueryOutcome } from "../queries/query-recorder.ts";
import type { TrackContext } from "../tracks/track-context.ts";
import type { TrackFilter } from "../tracks/track-filters.ts";

/**
 * Before a query that filters on attributes answers, checks that every filtered attribute was
 * extracted over the whole range (extraction-coverage.ts). Where it was not, a partial answer
 * would silently miss people, so the query answers 202 with a reprocessing job instead
 * (one per missing attribute; the same range asked again reuses a queued or running job):
 *
 *   {job, status: "queued" | "running", href: "/api/v1/jobs/{id}", attribute, reason, jobs: [...]}
 *
 * Once the job is done the range counts as covered and the same query answers 200.
 */
export async function reprocessOr(ctx: TrackContext, f: TrackFilter, queryId: string, now: number): Promise<QueryOutcome | undefined> {
  if (f.attrs.length === 0) return undefined;
  const jobs: Array<{ job: string; attribute: string; status: string; href: string; ranges: number }> = [];
  for (const a of f.attrs) {
    const missing = await fromService("InfluxDB", ctx.coverage.uncovered(f.site, a.name, f.from, f.to));
    if (missing.length === 0) continue;
    const { job, created } = await fromService("the job store", ctx.jobs.findOrCreate(f.site, a.name, missing, now, queryId));
    if (created) ctx.metrics.jobs.inc({ state: "queued" });
    jobs.push({ job: job.id, attribute: a.name, status: job.state, href: `/api/v1/jobs/${job.id}`, ranges: missing.length });
  }
  if (jobs.length === 0) return undefined;
  ctx.runner.kick();
  const first = jobs[0]!;
  return {
    status: 202,
    body: {
      job: first.job, status: first.status, href: first.href, attribute: first.attribute,
      reason: `${jobs.map((j) => `"${j.attribute}"`).join(" and ")} ${jobs.length > 1 ? "were" : "was"} not extracted for part of the range; ` +
        "a reprocessing job is extracting it from stored data: follow href until the job is done, then ask again",
      jobs,
    },
    summary: { jobs: jobs.map((j) => j.job), attributes: jobs.map((j) => j.attribute) },
  };
}
