import type { NatsConnection } from "@nats-io/transport-node";
import { TrackUpdate } from "../../contracts/events.ts";
import { STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import type { CameraMallPlan } from "../../firmware-sim/camera-mall-plan.ts";
import { runCameraSim, type CameraRunResult } from "../../firmware-sim/camera-run.ts";
import type { CameraFaults } from "../../firmware-sim/camera-detector.ts";
import { influxClient } from "../../infra/provision.ts";
import { evaluateScenario, type ScenarioFigures } from "../accuracy/scenario-evaluation.ts";
import type { TestStack } from "../support/stack.ts";
import { eventually, whileUnavailable } from "../support/retry.ts";
import { readSubject } from "../support/stream-read.ts";
import { frameShortfall } from "./frame-shortfall.ts";

export interface TrackingScenarioOptions {
  site?: string;
  walkers: number;
  minutes: number;
  seed: number;
  fps?: number;
  faults?: Partial<CameraFaults>;
  /** simulated ms per real ms (default: as fast as the broker acknowledges) */
  speed?: number;
  /** called half-way through publishing (e.g. to kill a host) */
  midRun?: (progress: number) => Promise<void> | void;
}

export interface TrackingScenarioRun {
  plan: CameraMallPlan;
  secrets: Record<string, string>;
  /** what the simulator was run with (rendering it again gives the same frames, byte for byte) */
  simOptions: Parameters<typeof runCameraSim>[0];
  sim: CameraRunResult;
  /** frames the camera actors counted as too late to track */
  lateFrames: number;
  figures: ScenarioFigures;
  /** the camera actors' track.update events, as FF_EVENTS holds them */
  trackUpdates: TrackUpdate[];
  /** every person record the API returned (all pages of /paths over the run) */
  persons: Array<Record<string, unknown>>;
  from: number;
  to: number;
}

type PathItem = { person: string; distance_m: number; attributes: Record<string, { value: string; conf: number }>; tracklets: Array<{ tid: string; camera: string; from: number; to: number }> };

/** Every page of a /paths query. */
export async function allPaths(stack: Pick<TestStack, "fetch">, query: string): Promise<{ status: number; items: PathItem[]; body?: unknown }> {
  const items: PathItem[] = [];
  let cursor: string | undefined;
  for (;;) {
    // (stack.fetch asks again once when a keep-alive connection the server closed meanwhile fails)
    const url = `/api/v1/paths?${query}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    // a store the API reads may be electing a leader (a node of a cluster lost)
    const r = await whileUnavailable(() => stack.fetch(url));
    const body = (await r.json()) as { items?: PathItem[]; next_cursor?: string | null };
    if (r.status !== 200) return { status: r.status, items, body };
    items.push(...(body.items ?? []));
    if (!body.next_cursor) return { status: 200, items };
    cursor = body.next_cursor;
  }
}

/** TrackUpdate events of the site, read back from FF_EVENTS from the start. */
async function trackUpdates(nc: NatsConnection, site: string): Promise<TrackUpdate[]> {
  return (await readSubject(nc, STREAM_EVENTS, `evt.track.${site}.>`)).map((m) => TrackUpdate.parse(m.json()));
}

/**
 * The camera acceptance scenario against a running stack: registers the camera mall, publishes the
 * simulated cameras' frames over MQTT as fast as the broker acknowledges (faults on: misses,
 * occlusion, false positives, jitter, colour confusion, 5 % duplicate sends, late batches), waits
 * until every frame is tracked and the pipeline is quiet, then reads the answers through the HTTP
 * API (/paths, zone occupancy) and the track.update events, and evaluates them against ground truth.
 */
/** What the scenario needs of a running stack (a test stack, or the fault lab's cluster). */
export type ScenarioStack = Pick<TestStack, "admin" | "fetch" | "cfg" | "mqttUrl">;

export async function runTrackingScenario(stack: ScenarioStack, nc: NatsConnection, o: TrackingScenarioOptions): Promise<TrackingScenarioRun> {
  const plan = cameraMall(o.site ?? "camera-mall");
  const secrets = cameraMallSecrets(plan);
  const put = await stack.admin("PUT", `/api/v1/sites/${plan.site}/topology`, toCameraTopologyDoc(plan, secrets));
  if (put.status !== 200) throw new Error(`topology refused: ${put.status} ${await put.text()}`);
  // the broker's registry follows KV: wait until every camera can log in
  await new Promise((r) => setTimeout(r, 1000));

  const durationMs = o.minutes * 60_000;
  // simulated time ends about two minutes ago: every instant evaluated is in the past, within
  // retention. Whole minutes, so every run of a seed has the same figures (the actors bin per second).
  const startTs = Math.floor((Date.now() - durationMs - 120_000) / 60_000) * 60_000;
  let midRunDone = false;
  const simOptions = {
    mqttUrl: stack.mqttUrl, plan, secrets, walkers: o.walkers, durationMs, startTs, seed: o.seed, fps: o.fps ?? 5,
    ...(o.faults ? { faults: o.faults } : {}),
  };
  const sim = await runCameraSim({
    ...simOptions,
    ...(o.speed ? { speed: o.speed } : {}),
    onProgress: (done, total) => {
      if (!midRunDone && o.midRun && done >= total / 2) {
        midRunDone = true;
        void o.midRun(done / total);
      }
    },
  });

  // every distinct frame tracked (the camera actors' per-second aggregates add up), and the persons settle
  const influx = influxClient(stack.cfg.influxUrl!, stack.cfg.influxDb);
  let counted = { frames: 0, late: 0 };
  try {
    await eventually("every frame tracked", async () => {
      const rows = await influx.query(`SELECT sum("frames") AS frames, sum("late") AS late FROM "camera_stats" WHERE "site" = '${plan.site}'`);
      const r = rows[0] as { frames?: number; late?: number } | undefined;
      counted = { frames: r?.frames ?? 0, late: r?.late ?? 0 };
      return counted.frames + counted.late >= sim.frames;
    }, 240_000, 500);
  } catch (e) {
    const where = await frameShortfall({ influxUrl: stack.cfg.influxUrl!, influxDb: stack.cfg.influxDb, partitions: stack.cfg.partitions }, nc, simOptions)
      .catch((d: Error) => [`(where they went could not be read: ${d.message})`]);
    throw new Error(`${(e as Error).message}: ${counted.frames} tracked + ${counted.late} late of ${sim.frames} frames\n  ${where.join("\n  ")}`);
  }
  // the stream's end releases in steps (camera reorder buffers, the linker's merge once it has
  // heard nothing for FOOTFALL_LINKER_QUIET_MS, person points held by their write throttle):
  // settled = no change for 9 s, counted from the later of the last change and the linker's quiet
  // time after the last frame was tracked
  const quietOver = Date.now() + stack.cfg.linkerQuietMs;
  let last = "", changedAt = Date.now();
  await eventually("person tracks settled", async () => {
    const rows = await influx.query(`SELECT count("obs") AS n, sum("obs") AS obs, sum("distance_m") AS d FROM "person" WHERE "site" = '${plan.site}'`);
    const now = JSON.stringify(rows[0] ?? {});
    if (now !== last) changedAt = Date.now();
    last = now;
    return Date.now() - Math.max(changedAt, quietOver) >= 9000;
  }, 180_000 + stack.cfg.linkerQuietMs, 3000);

  const from = startTs, to = startTs + durationMs;
  const range = `site=${plan.site}&from=${from}&to=${to}`;
  const all = await allPaths(stack, range);
  if (all.status !== 200) throw new Error(`/paths answered ${all.status}: ${JSON.stringify(all.body)}`);
  const blue = await allPaths(stack, `${range}&upper=blue`);
  if (blue.status !== 200) throw new Error(`/paths?upper=blue answered ${blue.status}: ${JSON.stringify(blue.body)}`);

  const updates = await trackUpdates(nc, plan.site);
  const figures = await evaluateScenario(sim.truth, {
    trackUpdates: updates,
    persons: all.items.map((p) => ({
      person: p.person,
      distance_m: p.distance_m,
      tracklets: p.tracklets.map((t) => [t.tid, t.camera, t.from, t.to] as [string, string, number, number]),
      upper: p.attributes.upper?.value ?? "",
      upper_conf: p.attributes.upper?.conf ?? 0,
    })),
    blueReturned: blue.items.map((p) => p.person),
    zoneCount: async (space, at) => {
      const r = await whileUnavailable(() => stack.fetch(`/api/v1/sites/${plan.site}/zones/${space}/occupancy?at=${at}`));
      const body = (await r.json()) as { count?: number };
      if (r.status !== 200 || typeof body.count !== "number") throw new Error(`zone ${space} at ${at}: ${r.status} ${JSON.stringify(body)}`);
      return body.count;
    },
  }, `camera mall: ${o.walkers} walkers, ${o.minutes} simulated minutes, seed ${o.seed}, ${plan.cameras.length} cameras`);
  return { plan, secrets, simOptions, sim, lateFrames: counted.late, figures, trackUpdates: updates, persons: all.items as unknown as Array<Record<string, unknown>>, from, to };
}
