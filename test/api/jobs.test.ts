import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm } from "@nats-io/kv";
import { jetstream } from "@nats-io/jetstream";
import { KV_EXTRACTION, KV_JOBS } from "../../contracts/nats-layout.ts";
import { createLogger } from "../../infra/log.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { ExtractionCoverage } from "../../api/jobs/extraction-coverage.ts";
import { JobRunner } from "../../api/jobs/job-runner.ts";
import { JobStore, newJobId, type JobRecord } from "../../api/jobs/jobs.ts";
import { QueryMetrics } from "../../api/queries/query-metrics.ts";
import { PersonReader } from "../../api/tracks/track-reader.ts";
import { eventually } from "../support/retry.ts";
import { jsonOf, startApiHarness, type ApiHarness } from "./api-harness.ts";
import {
  cameraSeconds, DAY, FakeExtractor, generatePersons, H, iso, mallTopology, PersonActorStandIn, personPoint, trackWriter,
  type PersonSpec,
} from "./track-fixture.ts";

/**
 * Re-processing (seed 000): a query filtering on an attribute that was not extracted for part of
 * its range answers 202 with a job; the job runs the extractor (a fake of our own interface) over
 * the persons' tracklets, the person actor (a stand-in here) folds the evidence into the person
 * points, and the same query then answers 200. Real nats-server (KV, JetStream) and influxd.
 */

const MIN = 60_000;
const D0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY + 8 * H;
const persons = generatePersons(40, D0, 5);
/** what the fake extractor "sees": shoes per tracklet (the same for both tracklets of a person) */
const shoesOf = (p: PersonSpec) => (Number(p.person.slice(1)) % 3 === 0 ? "white" : "black");
const truth = new Map(persons.flatMap((p) => p.tracklets.map((t) => [t[0], shoesOf(p)] as [string, string])));
const overlaps = (p: PersonSpec, from: number, to: number) => p.start <= to && p.end >= from;
const newestFirst = (ps: PersonSpec[]) => [...ps].sort((a, b) => b.start - a.start).map((p) => p.person);

const fast = { pollMs: 100, sweepMs: 300, heartbeatMs: 200, staleMs: 2000 };

async function seed(h: ApiHarness): Promise<void> {
  expect((await h.admin("PUT", "/api/v1/sites/mall/topology", mallTopology)).status).toBe(200);
  const w = trackWriter(h);
  await w.writePoints(persons.map((p) => personPoint("mall", p)));
  // the cameras extracted upper and lower, never shoes
  await w.writePoints([
    ...cameraSeconds("mall", "cam-a", D0 - H, D0 + 3 * H, ["upper", "lower"], MIN),
    ...cameraSeconds("mall", "cam-b", D0 - H, D0 + 3 * H, ["upper", "lower"], MIN),
  ]);
}

describe("re-processing jobs (real nats-server and influxd)", () => {
  let h: ApiHarness;
  let actor: PersonActorStandIn;
  const extractor = new FakeExtractor(["shoes"], truth);
  const get = async (path: string) => jsonOf(await h.fetch(`/api/v1${path}`));
  const jobDone = async (id: string) => {
    let job: Record<string, unknown> = {};
    await eventually(`job ${id} finished`, async () => {
      job = (await get(`/jobs/${id}`)).body;
      return job.state === "done" || job.state === "failed";
    }, 30_000, 100);
    return job;
  };

  beforeAll(async () => {
    h = await startApiHarness({ influx: true, extractor, track: { jobs: { ...fast, waitTimeoutMs: 20_000 } } });
    await seed(h);
    actor = new PersonActorStandIn(h.nc, trackWriter(h), h.cfg.influxDb);
  });
  afterAll(async () => {
    extractor.release();
    await actor?.stop();
    await h?.stop();
  });

  it("202 with a job, the job extracts and the person actor folds it in, then the same query answers 200", async () => {
    const from = D0 + 10 * MIN, to = D0 + 70 * MIN;
    const q = `/paths?site=mall&from=${iso(from)}&to=${iso(to)}&shoes=white&limit=1000`;
    const first = await get(q);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ attribute: "shoes", href: `/api/v1/jobs/${first.body.job}` });
    expect(["queued", "running"]).toContain(first.body.status);
    expect(first.body.reason).toMatch(/"shoes" was not extracted for part of the range/);
    expect(first.body.query_id).toMatch(/^[0-9a-z]{19}$/);

    const job = await jobDone(first.body.job);
    expect(job).toMatchObject({ state: "done", site: "mall", attribute: "shoes", from: iso(from), to: iso(to + MIN), query_id: first.body.query_id });
    // the job's range is [from, to + 1 min): every minute of it lacked shoes
    const inJob = persons.filter((p) => overlaps(p, from, to + MIN - 1));
    expect(job.progress).toEqual({ done: inJob.length, total: inJob.length });
    expect(job.persons).toBe(inJob.length);

    // one extractor call per tracklet overlapping the range, with the person's path within the tracklet
    const wantCalls = inJob.flatMap((p) => p.tracklets.filter(([, , a, b]) => a < to + MIN && b >= from).map((t) => t[0])).sort();
    expect(extractor.calls.map((c) => c.tid).sort()).toEqual(wantCalls);
    const walker = inJob.find((p) => p.start >= from)!;
    const [tid, camera, a, b] = walker.tracklets[0]!;
    const call = extractor.calls.find((c) => c.tid === tid)!;
    expect(call).toMatchObject({ site: "mall", camera, tid, attribute: "shoes", from: a, to: b });
    expect(call.path[0]![0]).toBe(a);
    expect(call.path[call.path.length - 1]![0]).toBe(b);
    const inside = walker.path.filter(([t]) => t > a && t < b);
    expect(inside.length).toBeGreaterThan(0);
    for (const p of inside) expect(call.path).toContainEqual(p);

    // the person actor got one PersonAttrsMsg per person, with the summed evidence
    const sent = actor.applied.filter((m) => m.job === first.body.job);
    expect(sent.map((m) => m.person).sort()).toEqual(inJob.map((p) => p.person).sort());
    const p0 = inJob[0]!;
    expect(sent.find((m) => m.person === p0.person)!.votes).toEqual({ shoes: { [shoesOf(p0)]: 0.8 * p0.tracklets.filter(([, , x, y]) => x < to + MIN && y >= from).length } });

    const again = await get(q);
    expect(again.status).toBe(200);
    expect(again.body.items.map((i: { person: string }) => i.person))
      .toEqual(newestFirst(persons.filter((p) => overlaps(p, from, to) && shoesOf(p) === "white")));
    expect(again.body.items[0].attributes.shoes).toEqual({ value: "white", conf: 1 });
    // a narrower range inside the covered one needs no job either
    expect((await get(`/stats/distance?site=mall&from=${iso(from + 5 * MIN)}&to=${iso(to - 5 * MIN)}&shoes=black`)).status).toBe(200);
    // the covered range is recorded in KV ff_extraction
    const kv = await new Kvm(h.nc).open(KV_EXTRACTION);
    expect((await kv.get("mall.shoes"))!.json()).toEqual({ ranges: [[from, to + MIN]] });
  });

  it("the same attribute and range asked again while the job runs reuses it", async () => {
    extractor.hold();
    // past the range the first test covered, with persons still walking
    const from = D0 + 72 * MIN, to = D0 + 80 * MIN;
    const a = await get(`/paths?site=mall&from=${iso(from)}&to=${iso(to)}&shoes=black`);
    expect(a.status).toBe(202);
    await eventually("the job running", async () => (await get(`/jobs/${a.body.job}`)).body.state === "running", 10_000, 50);
    const b = await get(`/stats/distance?site=mall&from=${iso(from + 10_000)}&to=${iso(to + 10_000)}&shoes=black&upper=blue`);
    expect(b.status).toBe(202);
    expect(b.body).toMatchObject({ job: a.body.job, status: "running" });
    const c = await get(`/heatmap?site=mall&from=${iso(from)}&to=${iso(to)}&shoes=white`);
    expect(c.body.job).toBe(a.body.job);
    const running = (await get(`/jobs/${a.body.job}`)).body;
    expect(running).toMatchObject({ state: "running", phase: "extracting" });
    expect(running.progress.total).toBe(persons.filter((p) => overlaps(p, from, to + MIN - 1)).length);
    expect(running.progress.total).toBeGreaterThan(0);
    expect(running.progress.done).toBeLessThan(running.progress.total);
    extractor.release();
    expect(await jobDone(a.body.job)).toMatchObject({ state: "done" });
    expect((await get(`/paths?site=mall&from=${iso(from)}&to=${iso(to)}&shoes=black`)).status).toBe(200);
  });

  it("resumes jobs left queued, or running by a runner that stopped writing", async () => {
    const store = new JobStore(() => new Kvm(h.nc).open(KV_JOBS));
    const now = Date.now();
    const base = { site: "mall", attribute: "shoes", progress: { done: 0, total: 0 }, created: now - 60_000 };
    const queued: JobRecord = { ...base, id: newJobId(now), from: D0 + 40 * MIN, to: D0 + 45 * MIN, ranges: [[D0 + 40 * MIN, D0 + 45 * MIN]], state: "queued", updated: now - 60_000 };
    const orphan: JobRecord = {
      ...base, id: newJobId(now + 1), from: D0 + 50 * MIN, to: D0 + 52 * MIN, ranges: [[D0 + 50 * MIN, D0 + 52 * MIN]],
      state: "running", runner: "runner-dead", started: now - 60_000, updated: now - 60_000, phase: "extracting",
    };
    await store.putRaw(queued);
    await store.putRaw(orphan);
    const q = await jobDone(queued.id);
    expect(q).toMatchObject({ state: "done", persons: persons.filter((p) => overlaps(p, queued.from, queued.to - 1)).length });
    expect(q.persons).toBeGreaterThan(0);
    const o = await jobDone(orphan.id);
    expect(o).toMatchObject({ state: "done", persons: persons.filter((p) => overlaps(p, orphan.from, orphan.to - 1)).length });
    expect(await store.active()).not.toContain(orphan.id);
  });

  it("GET /jobs/{id}: 404 for unknown jobs, 400 for malformed ids", async () => {
    expect((await get("/jobs/j000000000deadbeef")).status).toBe(404);
    expect((await get("/jobs/nope")).status).toBe(400);
  });
});

describe("re-processing jobs that cannot finish fail with a reason", () => {
  let h: ApiHarness;
  const get = async (path: string) => jsonOf(await h.fetch(`/api/v1${path}`));

  beforeAll(async () => {
    // an extractor but no person actor: the evidence is never folded in
    h = await startApiHarness({ influx: true, extractor: new FakeExtractor(["shoes"], truth), track: { jobs: { ...fast, waitTimeoutMs: 1500 } } });
    await seed(h);
  });
  afterAll(async () => { await h?.stop(); });

  const finished = async (id: string) => {
    let job: Record<string, unknown> = {};
    await eventually(`job ${id} finished`, async () => {
      job = (await get(`/jobs/${id}`)).body;
      return job.state === "done" || job.state === "failed";
    }, 30_000, 100);
    return job;
  };

  it("when the persons never show the attribute (no person actor), and the range stays uncovered", async () => {
    const q = `/paths?site=mall&from=${iso(D0 + 20 * MIN)}&to=${iso(D0 + 40 * MIN)}&shoes=white`;
    const r = await get(q);
    expect(r.status).toBe(202);
    const job = await finished(r.body.job);
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/persons did not show "shoes" within 2 s .*are the person actors running/);
    const again = await get(q);
    expect(again.status).toBe(202);
    expect(again.body.job).not.toBe(r.body.job);
  });

  it("when the extractor cannot extract the attribute", async () => {
    const r = await get(`/paths?site=mall&from=${iso(D0 + 20 * MIN)}&to=${iso(D0 + 40 * MIN)}&hat=red`);
    expect(r.status).toBe(202);
    const job = await finished(r.body.job);
    expect(job).toMatchObject({ state: "failed", error: 'the extractor "fake" cannot extract "hat" (it extracts shoes)' });
  });

  it("when no extractor is configured", async () => {
    const log = createLogger("jobs-test", "silent");
    const store = new JobStore(() => new Kvm(h.nc).open(KV_JOBS));
    const runner = new JobRunner({
      jobs: store, coverage: new ExtractionCoverage(h.influx, h.cfg.influxDb, () => new Kvm(h.nc).open(KV_EXTRACTION)),
      persons: new PersonReader(h.influx, h.cfg.influxDb), js: jetstream(h.nc), partitions: h.cfg.partitions, log,
      metrics: new QueryMetrics(createRegistry("jobs-test")),
    }, fast);
    await h.jobs.stop();
    const now = Date.now();
    const job: JobRecord = {
      id: newJobId(now), site: "mall", attribute: "shoes", from: D0, to: D0 + MIN, ranges: [[D0, D0 + MIN]],
      state: "queued", progress: { done: 0, total: 0 }, created: now, updated: now,
    };
    await store.putRaw(job);
    runner.start();
    try {
      const done = await finished(job.id);
      expect(done.state).toBe("failed");
      expect(done.error).toMatch(/no attribute extractor is configured in this API process, so "shoes" cannot be extracted/);
    } finally {
      await runner.stop();
    }
  });
});
