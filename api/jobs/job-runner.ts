import { randomBytes } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { AttrValue } from "../../contracts/detection.ts";
import { ActorKinds, actorSubject } from "../../contracts/nats-layout.ts";
import { PersonAttrsMsg, trackMsgIds } from "../../contracts/track-messages.ts";
import { jetStreamPublisherOf } from "../../infra/js-publish.ts";
import type { Logger } from "../../infra/log.ts";
import type { AttributeEvidence, AttributeExtractor, ExtractionRequest } from "../../models/extractor.ts";
import type { ExtractionCoverage, Range } from "./extraction-coverage.ts";
import type { JobRecord, JobStore, StoredJob } from "./jobs.ts";
import { attrsOf, pathOf, trackletsOf, type PathPoint, type PersonRow } from "../tracks/person-record.ts";
import type { QueryMetrics } from "../queries/query-metrics.ts";
import type { TrackFilter } from "../tracks/track-filters.ts";
import type { PersonReader } from "../tracks/track-reader.ts";

/**
 * Runs reprocessing jobs inside the API process. Durable in KV ff_jobs: every runner sweeps the
 * active jobs every `sweepMs` (and at once after a job is created), claims a queued job (or a
 * running one whose runner stopped writing for `staleMs`, e.g. after a crash) by compare-and-set,
 * and runs it:
 *
 *  1. reads the persons whose track overlaps the job's ranges (batches of BATCH persons);
 *  2. for each of their tracklets overlapping a range, calls extractor.extract({site, camera, tid,
 *     attribute, from, to, path}) with the tracklet's span and the person's path within it
 *     (interpolated positions at the span's ends plus every path point between), at most
 *     `concurrency` calls at once; evidence is summed per person;
 *  3. publishes one PersonAttrsMsg per person with evidence to JetStream (subject of the person
 *     actor "{site}.{person}", Nats-Msg-Id trackMsgIds.personAttrs): the person actor adds the
 *     votes (once per job) and rewrites its `person` point;
 *  4. waits until every such person that lacked the attribute shows it in its point's attrs
 *     (failing after `waitTimeoutMs`);
 *  5. records the ranges as covered (KV ff_extraction) and marks the job done.
 * Progress counts persons. A job re-run after a crash repeats its work: the message ids and the
 * person actor's once-per-job rule make that harmless.
 */

export interface JobRunnerOptions {
  /** extractor calls in flight per job */
  concurrency: number;
  /** how long persons may take to show extracted attributes */
  waitTimeoutMs: number;
  pollMs: number;
  /** a running job not written for this long is taken over by another runner */
  staleMs: number;
  sweepMs: number;
  /** a running job's record is rewritten (progress, heartbeat) at most / at least this often */
  heartbeatMs: number;
  /** jobs run at once by this runner */
  maxJobs: number;
}

export const DEFAULT_JOB_OPTIONS: JobRunnerOptions = {
  concurrency: 4, waitTimeoutMs: 120_000, pollMs: 500, staleMs: 30_000, sweepMs: 5_000, heartbeatMs: 1_000, maxJobs: 2,
};

/** Persons read per InfluxDB request. */
const BATCH = 500;
/** JetStream publishes in flight at once. */
const PUBLISH_CONCURRENCY = 64;

export interface JobRunnerDeps {
  jobs: JobStore;
  coverage: ExtractionCoverage;
  persons: PersonReader;
  js: JetStreamClient;
  partitions: number;
  extractor?: AttributeExtractor | undefined;
  log: Logger;
  metrics: QueryMetrics;
}

/** A job failure with a reason for the user. */
class JobFailure extends Error {}
/** This runner no longer owns the job (another runner took it over), or it is stopping. */
class Relinquished extends Error {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < items.length) await fn(items[next++]!); };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The path within [from, to]: interpolated positions at both ends plus the points between. */
export function pathWithin(path: readonly PathPoint[], from: number, to: number): PathPoint[] {
  if (path.length === 0) return [];
  const at = (t: number): PathPoint => {
    if (t <= path[0]![0]) return [t, path[0]![1], path[0]![2]];
    const last = path[path.length - 1]!;
    if (t >= last[0]) return [t, last[1], last[2]];
    let i = 1;
    while (path[i]![0] < t) i++;
    const a = path[i - 1]!, b = path[i]!;
    const k = (t - a[0]) / (b[0] - a[0] || 1);
    return [t, a[1] + k * (b[1] - a[1]), a[2] + k * (b[2] - a[2])];
  };
  const inner = path.filter((p) => p[0] > from && p[0] < to);
  return from === to ? [at(from)] : [at(from), ...inner, at(to)];
}

const overlaps = (first: number, last: number, ranges: readonly Range[]) => ranges.some(([a, b]) => first < b && last >= a);

/** Job state saved through one serialized chain (so revisions never race), with a heartbeat. */
class JobHandle {
  private chain: Promise<void> = Promise.resolve();
  private lastWrite = 0;
  private lost = false;

  constructor(public job: JobRecord, private revision: number, private readonly store: JobStore, private readonly heartbeatMs: number) {
    this.lastWrite = Date.now();
  }

  /** Applies a change and writes it (always when `force`, else at most every heartbeatMs). */
  save(patch: Partial<JobRecord>, force = false): Promise<void> {
    this.job = { ...this.job, ...patch };
    if (!force && Date.now() - this.lastWrite < this.heartbeatMs) {
      return this.chain.catch((e: unknown) => { if (e instanceof Relinquished) throw e; });
    }
    this.lastWrite = Date.now();
    // a failed write (KV unreachable) fails its caller, not every later write
    const write = this.chain.catch(() => {}).then(async () => {
      if (this.lost) throw new Relinquished("job taken over");
      const rev = await this.store.replace({ ...this.job, updated: Date.now() }, this.revision);
      if (rev === undefined) { this.lost = true; throw new Relinquished("job taken over"); }
      this.revision = rev;
    });
    this.chain = write;
    return write;
  }

  get relinquished(): boolean { return this.lost; }
}

export class JobRunner {
  readonly id = `runner-${randomBytes(4).toString("hex")}`;
  readonly opts: JobRunnerOptions;
  private readonly running = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: JobRunnerDeps, opts: Partial<JobRunnerOptions> = {}) {
    this.opts = { ...DEFAULT_JOB_OPTIONS, ...opts };
  }

  /** Starts sweeping (resumes queued jobs and jobs left running by a stopped runner). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.kick(), this.opts.sweepMs);
    this.timer.unref();
    this.kick();
  }

  /** Sweeps soon (a job was just created). */
  kick(): void {
    if (this.stopped) return;
    if (this.sweeping) { this.again = true; return; }
    this.sweeping = this.sweep()
      .catch((e: unknown) => this.deps.log.warn({ err: e }, "job sweep failed"))
      .finally(() => {
        this.sweeping = undefined;
        if (this.again) { this.again = false; this.kick(); }
      });
  }

  /** Stops claiming jobs and waits (up to `graceMs`) for running ones to stop; they stay resumable. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const all = Promise.allSettled([this.sweeping, ...this.running.values()]);
    await Promise.race([all, sleep(graceMs)]);
  }

  private async sweep(): Promise<void> {
    const { jobs, log } = this.deps;
    for (const id of await jobs.active()) {
      if (this.stopped || this.running.size >= this.opts.maxJobs) return;
      if (this.running.has(id)) continue;
      const stored = await jobs.get(id);
      if (!stored) continue;
      const { job } = stored;
      const now = Date.now();
      if (job.state === "done" || job.state === "failed") {
        await jobs.replace(job, stored.revision).catch(() => {}); // drops the stale active key
        continue;
      }
      if (job.state === "running" && now - job.updated < this.opts.staleMs) continue;
      const claimed: JobRecord = { ...job, state: "running", runner: this.id, started: job.started ?? now, updated: now, phase: "extracting" };
      const rev = await jobs.replace(claimed, stored.revision);
      if (rev === undefined) continue;
      if (job.state === "running") log.info({ job: id, previous: job.runner }, "resuming a job its runner stopped writing");
      const run = this.run({ job: claimed, revision: rev }).finally(() => {
        this.running.delete(id);
        this.kick();
      });
      this.running.set(id, run);
    }
  }

  private check(h: JobHandle): void {
    if (this.stopped || h.relinquished) throw new Relinquished("stopping");
  }

  private async run(stored: StoredJob): Promise<void> {
    const { log, metrics } = this.deps;
    const h = new JobHandle(stored.job, stored.revision, this.deps.jobs, this.opts.heartbeatMs);
    const beat = setInterval(() => { h.save({}, true).catch(() => {}); }, this.opts.heartbeatMs);
    beat.unref();
    try {
      const persons = await this.extract(h);
      await this.waitFor(h, persons);
      await this.deps.coverage.add(h.job.site, h.job.attribute, h.job.ranges);
      clearInterval(beat);
      await h.save({ state: "done", finished: Date.now() }, true);
      metrics.jobs.inc({ state: "done" });
      log.info({ job: h.job.id, site: h.job.site, attribute: h.job.attribute, persons: h.job.persons }, "job done");
    } catch (e) {
      clearInterval(beat);
      if (e instanceof Relinquished || h.relinquished) return;
      const reason = e instanceof JobFailure ? e.message : `job failed: ${(e as Error)?.message ?? String(e)}`;
      log.warn({ job: h.job.id, reason }, "job failed");
      metrics.jobs.inc({ state: "failed" });
      await h.save({ state: "failed", error: reason, finished: Date.now() }, true).catch((err: unknown) =>
        log.warn({ job: h.job.id, err }, "could not record a failed job"));
    } finally {
      clearInterval(beat);
    }
  }

  private filterOf(job: JobRecord): TrackFilter {
    return { site: job.site, from: job.from, to: job.to - 1, attrs: [], minConfidence: 0 };
  }

  /** Steps 1-3. Returns the persons to wait for: person -> point time (ns). */
  private async extract(h: JobHandle): Promise<Map<string, string>> {
    const { extractor, persons } = this.deps;
    const job = h.job;
    if (!extractor) {
      throw new JobFailure(`no attribute extractor is configured in this API process, so "${job.attribute}" cannot be extracted ` +
        `again from stored data; the range stays without it (configure an extractor, e.g. the video extractor)`);
    }
    await extractor.refresh?.();
    if (!extractor.attributes.includes(job.attribute)) {
      throw new JobFailure(`the extractor "${extractor.name}" cannot extract "${job.attribute}" (it extracts ${extractor.attributes.join(", ") || "nothing"})`);
    }
    const filter = this.filterOf(job);
    const total = await persons.count(filter);
    await h.save({ progress: { done: 0, total }, phase: "extracting" }, true);
    const pending = new Map<string, string>();
    let done = 0;
    let withEvidence = 0;
    for await (const rows of persons.scan({ filter, fields: ["attrs", "path", "tracklets"], order: "asc", batch: BATCH })) {
      this.check(h);
      const messages: PersonAttrsMsg[] = [];
      // persons in parallel, each person's tracklets one after the other: at most `concurrency` calls in flight
      await pool(rows, this.opts.concurrency, async (row) => {
        const votes = await this.extractPerson(job, row, h);
        if (votes) {
          messages.push({ type: "person-attrs", site: job.site, person: row.person, job: job.id, votes: { [job.attribute]: votes } });
          if (!attrsOf(row)[job.attribute]) pending.set(row.person, row.timeNs);
        }
      });
      this.check(h);
      await pool(messages, PUBLISH_CONCURRENCY, (m) => this.publish(m));
      withEvidence += messages.length;
      done += rows.length;
      await h.save({ progress: { done, total: Math.max(total, done) }, persons: withEvidence });
    }
    return pending;
  }

  /** Extracts the attribute from each of the person's tracklets in the ranges; summed evidence, or undefined if none. */
  private async extractPerson(job: JobRecord, row: PersonRow, h: JobHandle): Promise<Record<string, number> | undefined> {
    const { extractor, metrics } = this.deps;
    const tracklets = trackletsOf(row).filter(([, , first, last]) => overlaps(first, last, job.ranges));
    if (tracklets.length === 0) return undefined;
    const path = pathOf(row);
    const sum: Record<string, number> = {};
    let any = false;
    for (const [tid, camera, first, last] of tracklets) {
      this.check(h);
      const req: ExtractionRequest = { site: job.site, camera, tid, attribute: job.attribute, from: first, to: last, path: pathWithin(path, first, last) };
      let evidence: AttributeEvidence;
      try {
        evidence = await extractor!.extract(req);
      } catch (e) {
        metrics.extractions.inc({ result: "error" });
        try {
          evidence = await extractor!.extract(req);
        } catch {
          throw new JobFailure(`the extractor "${extractor!.name}" failed on tracklet ${tid} of camera ${camera}: ${(e as Error)?.message ?? String(e)}`);
        }
      }
      let got = false;
      for (const [value, conf] of Object.entries(evidence ?? {})) {
        if (!(typeof conf === "number" && Number.isFinite(conf) && conf > 0)) continue;
        if (!AttrValue.shape.value.safeParse(value).success) continue;
        sum[value] = (sum[value] ?? 0) + conf;
        got = any = true;
      }
      metrics.extractions.inc({ result: got ? "ok" : "empty" });
    }
    return any ? sum : undefined;
  }

  private async publish(m: PersonAttrsMsg): Promise<void> {
    const msg = PersonAttrsMsg.parse(m);
    const subject = actorSubject(ActorKinds.person, `${msg.site}.${msg.person}`, this.deps.partitions);
    // through the shared publisher: a "duplicate" answer JetStream has not stored is not taken as stored (infra/js-publish.ts)
    const { publisher, timeoutMs } = jetStreamPublisherOf(this.deps.js);
    await publisher.publish(subject, JSON.stringify(msg), trackMsgIds.personAttrs(msg.site, msg.person, msg.job), timeoutMs);
  }

  /** Step 4: polls the person points until each pending person shows the attribute. */
  private async waitFor(h: JobHandle, pending: Map<string, string>): Promise<void> {
    if (pending.size === 0) return;
    await h.save({ phase: "waiting" }, true);
    const job = h.job;
    const filter = this.filterOf(job);
    const deadline = Date.now() + this.opts.waitTimeoutMs;
    const of = pending.size;
    for (;;) {
      this.check(h);
      for await (const rows of this.deps.persons.scan({ filter, fields: ["attrs"], order: "asc", batch: 5000 })) {
        for (const r of rows) if (pending.has(r.person) && attrsOf(r)[job.attribute]) pending.delete(r.person);
      }
      if (pending.size === 0) return;
      if (Date.now() >= deadline) {
        throw new JobFailure(`${pending.size} of ${of} persons did not show "${job.attribute}" within ${Math.round(this.opts.waitTimeoutMs / 1000)} s ` +
          `after the extracted evidence was sent (are the person actors running?); e.g. ${[...pending.keys()].slice(0, 5).join(", ")}`);
      }
      await h.save({});
      await sleep(this.opts.pollMs);
    }
  }
}
