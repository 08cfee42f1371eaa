import { randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import type { Range } from "./extraction-coverage.ts";
import { isConflict } from "../http/kv-cas.ts";

/**
 * Reprocessing jobs (attribute extraction over stored data) in KV ff_jobs (kept 30 days):
 *
 *   job.{id}                               the job (JobRecord)
 *   active.{id}                            present while the job is queued or running (what a
 *                                          runner sweeps; finished jobs are never listed again)
 *   idx.{site}.{attribute}.{from}.{to}     the newest job for that range: the same question asked
 *                                          again while it is queued or running reuses it
 *
 * Every write is compare-and-set on the key's revision, so concurrent requests and several API
 * processes agree on one job per range, and only the runner that claimed a job writes it.
 */

export const JobState = z.enum(["queued", "running", "done", "failed"]);
export type JobState = z.infer<typeof JobState>;

export const JobRecord = z.object({
  id: z.string(),
  site: z.string(),
  attribute: z.string(),
  /** the span of the ranges, epoch ms [from, to) */
  from: z.number().int(),
  to: z.number().int(),
  /** minute-aligned ranges to extract (uncovered when the job was made) */
  ranges: z.array(z.tuple([z.number(), z.number()])),
  state: JobState,
  /** what a running job is doing: reading persons and extracting, then waiting for the person actors */
  phase: z.enum(["extracting", "waiting"]).optional(),
  /** persons done of the persons overlapping the ranges */
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  created: z.number().int(),
  started: z.number().int().optional(),
  finished: z.number().int().optional(),
  /** last write by its runner (a heartbeat while running) */
  updated: z.number().int(),
  runner: z.string().optional(),
  error: z.string().optional(),
  /** the query that asked for it */
  query_id: z.string().optional(),
  /** persons that received extracted evidence */
  persons: z.number().int().optional(),
});
export type JobRecord = z.infer<typeof JobRecord>;

export const JOB_ID_RE = /^j[0-9a-z]{9}[0-9a-f]{8}$/;
export const newJobId = (now: number) => `j${now.toString(36).padStart(9, "0")}${randomBytes(4).toString("hex")}`;

const enc = new TextEncoder();
const encode = (v: unknown) => enc.encode(JSON.stringify(v));

export interface StoredJob { job: JobRecord; revision: number }



/** The job as GET /jobs/{id} shows it. */
export function jobView(j: JobRecord): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: j.id, site: j.site, attribute: j.attribute, from: iso(j.from), to: iso(j.to),
    ranges: j.ranges.map(([a, b]) => ({ from: iso(a), to: iso(b) })),
    state: j.state, ...(j.phase === undefined || j.state !== "running" ? {} : { phase: j.phase }),
    progress: j.progress, created: iso(j.created),
    ...(j.started === undefined ? {} : { started: iso(j.started) }),
    ...(j.finished === undefined ? {} : { finished: iso(j.finished) }),
    ...(j.error === undefined ? {} : { error: j.error }),
    ...(j.persons === undefined ? {} : { persons: j.persons }),
    ...(j.query_id === undefined ? {} : { query_id: j.query_id }),
    href: `/api/v1/jobs/${j.id}`,
  };
}

export class JobStore {
  constructor(private readonly kv: () => Promise<KV>) {}

  async get(id: string): Promise<StoredJob | undefined> {
    if (!JOB_ID_RE.test(id)) return undefined;
    const e = await (await this.kv()).get(`job.${id}`);
    if (!e || e.operation !== "PUT") return undefined;
    let parsed: unknown;
    try { parsed = JSON.parse(e.string()); } catch { return undefined; }
    const j = JobRecord.safeParse(parsed);
    return j.success ? { job: j.data, revision: e.revision } : undefined;
  }

  /**
   * The queued or running job for (site, attribute, ranges' span), or a new queued one.
   * `created` says whether this call made it.
   */
  async findOrCreate(site: string, attribute: string, ranges: Range[], now: number, queryId?: string): Promise<{ job: JobRecord; created: boolean }> {
    const kv = await this.kv();
    const from = ranges[0]![0];
    const to = ranges[ranges.length - 1]![1];
    const idx = `idx.${site}.${attribute}.${from}.${to}`;
    for (let attempt = 0; ; attempt++) {
      const e = await kv.get(idx);
      let revision = 0;
      if (e) {
        revision = e.revision;
        const id = e.operation === "PUT" ? e.string() : "";
        const current = id ? await this.get(id) : undefined;
        if (current && (current.job.state === "queued" || current.job.state === "running")) return { job: current.job, created: false };
      }
      const job: JobRecord = {
        id: newJobId(now), site, attribute, from, to, ranges, state: "queued",
        progress: { done: 0, total: 0 }, created: now, updated: now,
        ...(queryId === undefined ? {} : { query_id: queryId }),
      };
      await kv.create(`job.${job.id}`, encode(job));
      await kv.put(`active.${job.id}`, encode({ site, attribute }));
      try {
        if (revision === 0) await kv.create(idx, enc.encode(job.id));
        else await kv.update(idx, enc.encode(job.id), revision);
        return { job, created: true };
      } catch (err) {
        // another request made a job for this range first: drop ours and use theirs
        await kv.delete(`active.${job.id}`).catch(() => {});
        await kv.purge(`job.${job.id}`).catch(() => {});
        if (!isConflict(err) || attempt >= 10) throw err;
      }
    }
  }

  /** Writes a new version of a job if nobody wrote it since `revision`; returns the new revision, or undefined on conflict. */
  async replace(job: JobRecord, revision: number): Promise<number | undefined> {
    const kv = await this.kv();
    try {
      const rev = await kv.update(`job.${job.id}`, encode(job), revision);
      if (job.state === "done" || job.state === "failed") await kv.delete(`active.${job.id}`);
      return rev;
    } catch (e) {
      if (isConflict(e)) return undefined;
      throw e;
    }
  }

  /** Ids of queued and running jobs. */
  async active(): Promise<string[]> {
    const ids: string[] = [];
    for await (const k of await (await this.kv()).keys("active.*")) ids.push(k.slice("active.".length));
    return ids.sort();
  }

  /** Stores a job as given (tests and tools: e.g. a job left queued by a stopped process). */
  async putRaw(job: JobRecord): Promise<void> {
    const kv = await this.kv();
    await kv.put(`job.${job.id}`, encode(job));
    if (job.state === "queued" || job.state === "running") await kv.put(`active.${job.id}`, encode({ site: job.site, attribute: job.attribute }));
  }
}
