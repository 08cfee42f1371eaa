import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../infra/nats.ts";
import { jetstream } from "@nats-io/jetstream";
import { influxClient } from "../../infra/provision.ts";
import { serveExtractor } from "../../models/nats-extractor.ts";
import { SimulatedExtractor } from "../../firmware-sim/simulated-extractor.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";
import { allPaths, runTrackingScenario, type TrackingScenarioRun } from "./tracking-scenario.ts";

/**
 * Issue 3's acceptance scenario: the simulated camera mall (14 cameras, 300 walkers, 15 simulated
 * minutes, every fault on) through MQTT -> aedes -> JetStream -> camera / linker / person / zone
 * actors -> InfluxDB -> HTTP API, evaluated against the simulator's ground truth. The actor host is
 * SIGKILLed half-way through and restarted.
 *
 * Two of the issue's targets are NOT met yet (issue 3 stays open): cross-camera IDF1 >= 0.8 and
 * mean distance within 5 %. Their tests below hold the figures reached so far as regression floors
 * and say so in their names; the README lists the current figures.
 */
const SEED = 7, WALKERS = 300, MINUTES = 15;
describe("camera pipeline end to end: accuracy against ground truth (real nats-server, influxd, aedes, actor host processes)", () => {
  let stack: TestStack;
  let nc: NatsConnection;
  let run: TrackingScenarioRun;
  const log = (s: string) => { if (process.env.FOOTFALL_TEST_REPORT) console.log(s); };

  beforeAll(async () => {
    // Simulated time runs ~40x faster than real time here. With several partitions, camera actors
    // would drift apart by minutes of frame time, more than the linker's event-time merge holds
    // (live cameras drift by milliseconds): one partition keeps them in the stream's order.
    stack = await startTestStack({ hosts: 1, partitions: 1, overrides: { snapshotMs: 2000, linkerWaitMs: 30 * 60_000 } });
    nc = await connectNats(stack.cfg.natsUrl!, "tracking");
    run = await runTrackingScenario(stack, nc, {
      walkers: WALKERS, minutes: MINUTES, seed: SEED,
      midRun: async () => {
        // SIGKILL the only actor host while frames are still arriving, then start a new one:
        // it replays from the partition checkpoints and snapshots
        await stack.hosts[0]!.kill();
        await stack.startHost();
      },
    });
    log(run.figures.report);
  }, 900_000);
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  it("tracks people across cameras: cross-camera IDF1 >= 0.8", () => {
    expect(run.figures.tracking.crossCamera.unknownOids).toBe(0);
    expect(run.figures.tracking.crossCamera.idf1).toBeGreaterThanOrEqual(0.8);
  });

  it('answers "upper=blue" paths with precision and recall >= 0.9', () => {
    expect(run.figures.blue.relevant).toBeGreaterThan(20);
    expect(run.figures.blue.precision).toBeGreaterThanOrEqual(0.9);
    expect(run.figures.blue.recall).toBeGreaterThanOrEqual(0.9);
  });

  it("measures the mean distance walked within 5 % of ground truth", () => {
    expect(Math.abs(run.figures.distance.relativeError)).toBeLessThanOrEqual(0.05);
    // whole-track distances are right where linking is: a straight walk is measured within 3 % (test/actors/person-track)
  });

  it("counts people in camera zones within 5 % of ground truth at sampled instants", () => {
    expect(run.figures.zones.samples).toBeGreaterThan(100);
    expect(Math.abs(run.figures.zones.relativeAbsError)).toBeLessThanOrEqual(0.05);
  });

  it("re-sent frames change nothing", async () => {
    expect(run.lateFrames).toBe(0);
    // the simulator already re-sent 5 % of frames; now re-send the whole first minute once more
    expect(run.sim.duplicatesSent).toBeGreaterThan(1000);
    const before = await allPaths(stack, `site=${run.plan.site}&from=${run.from}&to=${run.to}`);
    const { resendFrames, restoreFramesPastWindow } = await import("./resend-frames.ts");
    // over MQTT (JetStream's duplicate window drops them) ...
    expect(await resendFrames(stack.mqttUrl, run, 60_000)).toBeGreaterThan(500);
    // ... and straight into the stream under new ids, as re-sends after the window (the camera actors drop them)
    expect(await restoreFramesPastWindow(jetstream(nc), stack.cfg.partitions, run, 60_000)).toBeGreaterThan(500);
    await new Promise((r) => setTimeout(r, 5000));
    const after = await allPaths(stack, `site=${run.plan.site}&from=${run.from}&to=${run.to}`);
    // every distinct frame was tracked exactly once: the camera actors' per-second frame counts add up to the frames rendered
    const rows = await influxClient(stack.cfg.influxUrl!, stack.cfg.influxDb)
      .query<{ frames: number }>(`SELECT sum("frames") AS frames FROM "camera_stats" WHERE "site" = '${run.plan.site}'`);
    expect((rows[0] as { frames?: number } | undefined)?.frames).toBe(run.sim.frames);
    const digest = (items: typeof before.items) => JSON.stringify(items.map((p) => [p.person, p.distance_m, p.tracklets.length]).sort());
    expect(digest(after.items)).toBe(digest(before.items));
  });

  it("re-processing: a query on an attribute the cameras never extracted answers 202, runs a job, then answers", async () => {
    const served = serveExtractor(nc, new SimulatedExtractor(run.sim.truth));
    try {
      const q = `site=${run.plan.site}&from=${run.from}&to=${run.to}&shoes=white`;
      const first = await stack.fetch(`/api/v1/paths?${q}`);
      expect(first.status).toBe(202);
      const job = (await first.json()) as { job: string; href: string };
      await eventually("job done", async () => {
        const j = (await (await stack.fetch(job.href)).json()) as { state: string; error?: string };
        if (j.state === "failed") throw new Error(`job failed: ${j.error}`);
        return j.state === "done";
      }, 180_000, 500);
      const answered = await allPaths(stack, q);
      expect(answered.status).toBe(200);
      // persons whose majority identity wears white shoes
      const truthShoes = new Map(run.sim.truth.persons.map((p) => [p.id, p.shoes]));
      const right = answered.items.filter((p) => {
        const who = majority(run, p.person);
        return who !== null && truthShoes.get(who) === "white";
      });
      expect(answered.items.length).toBeGreaterThan(10);
      expect(right.length / answered.items.length).toBeGreaterThanOrEqual(0.8);
    } finally {
      served.stop();
    }
  }, 240_000);

  // last: the in-process run keeps this process (and the API and broker in it) busy for a while
  it("a host killed mid-run changes nothing: the figures equal those of the same run through the actors in one process", async () => {
    const { runInProcess } = await import("../accuracy/in-process-run.ts");
    const alone = await runInProcess({ walkers: WALKERS, durationMs: MINUTES * 60_000, startTs: run.simOptions.startTs, seed: SEED, fps: 5 });
    const key = (f: typeof run.figures) => ({
      idf1: f.tracking.crossCamera.idf1, idsw: f.tracking.crossCamera.idsw, mota: f.tracking.crossCamera.mota,
      tracks: f.distance.systemTracks, meanDistance: Math.round(f.distance.systemMean * 100) / 100,
    });
    expect(key(run.figures)).toEqual(key(alone.figures));
  }, 300_000);
});

function majority(run: TrackingScenarioRun, person: string): string | null {
  const ids = run.figures.tracking.identities.get(person);
  if (!ids) return null;
  let best: string | null = null, n = 0;
  for (const [who, k] of ids) if (k > n) { best = who; n = k; }
  return best;
}
