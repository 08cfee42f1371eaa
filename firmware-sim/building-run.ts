import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { waitOnline } from "./firmware-online.ts";
import { createLogger, type Logger } from "../infra/log.ts";
import type { BuildingPlan } from "./building.ts";
import type { HeldCrossing } from "./crossing-buffer.ts";
import { CrossingQueue } from "./crossing-queue.ts";
import { DpuFirmware } from "./dpu-firmware.ts";
import { FloorGraph } from "./floor-graph.ts";
import type { GroundTruth } from "./ground-truth.ts";
import { deriveSeed, exponential, mulberry32, uniform } from "./random.ts";
import { DEFAULT_JOURNEY, DistinctInstants, simulateWalkers, walkerJourney, type JourneyOptions } from "./walkers.ts";
import type { SimCrossing } from "./ground-truth.ts";

export interface BuildingSimOptions {
  /** the broker's URL, or several separated by commas: the DPUs fail over between them */
  mqttUrl: string;
  /** PEM CA the broker's certificate must verify against (mqtts://) */
  mqttCa?: Buffer | string;
  /** a DPU whose publish waits this long for its PUBACK moves to the next broker (default 10 s) */
  ackTimeoutMs?: number;
  plan: BuildingPlan;
  /** device id -> secret, for every DPU of the plan */
  secrets: Record<string, string>;
  walkers: number;
  durationMs: number;
  /** epoch ms of simulated time zero */
  startTs: number;
  seed: number;
  /** share of crossings each DPU publishes twice (0..1) */
  duplicateRate?: number;
  /** every DPU's clock is off by a fixed amount drawn from [-maxSkewMs, +maxSkewMs] */
  maxSkewMs?: number;
  /** one DPU is offline during [fromMs, toMs) of simulated time (offsets from startTs), then replays */
  outage?: { device: string; fromMs: number; toMs: number };
  /** simulated ms per real ms; Infinity (default) = as fast as the broker acknowledges */
  speed?: number;
  /** the DPUs' disk buffers */
  dataDir: string;
  /** crossings handed over and acknowledged (or buffered) so far */
  onProgress?: (done: number, total: number) => void;
  log?: Logger;
  /** crossings awaiting their PUBACK at once, over all DPUs (default 256) */
  maxInFlight?: number;
  /** how walkers behave */
  walk?: Partial<JourneyOptions>;
}

export interface BuildingSimResult {
  truth: GroundTruth;
  /** true crossings simulated (each recorded by exactly one DPU) */
  crossings: number;
  /** crossing copies acknowledged by the broker (duplicates included) */
  sent: number;
  duplicatesSent: number;
  /** crossings that went through a disk buffer, and of those the ones replayed */
  buffered: number;
  replayed: number;
  /** connections the DPUs gave up because a publish waited for its PUBACK too long (then on to the next broker) */
  ackTimeouts: number;
  /** event id of truth.crossings[i] is `${runTag}-${i}` */
  runTag: string;
  /** the clock skew each DPU ran with (ms) */
  skews: Record<string, number>;
}

function firmwareFor(plan: BuildingPlan, secrets: Record<string, string>, o: {
  mqttUrl: string; mqttCa?: Buffer | string; dataDir: string; seed: number; duplicateRate: number; maxSkewMs: number; log: Logger; ackTimeoutMs?: number | undefined;
  onAcked?: ((device: string, crossings: readonly HeldCrossing[]) => void) | undefined;
}): { fws: Map<string, DpuFirmware>; skews: Record<string, number> } {
  const missing = plan.dpus.filter((d) => typeof secrets[d.id] !== "string").map((d) => d.id);
  if (missing.length > 0) throw new Error(`no secret for dpu ${missing.join(", ")}`);
  const skewRng = mulberry32(deriveSeed(o.seed, "skew"));
  const fws = new Map<string, DpuFirmware>();
  const skews: Record<string, number> = {};
  for (const d of plan.dpus) {
    const skew = Math.round(uniform(skewRng, -o.maxSkewMs, o.maxSkewMs));
    skews[d.id] = skew;
    fws.set(d.id, new DpuFirmware({
      url: o.mqttUrl, ...(o.mqttCa ? { ca: o.mqttCa } : {}), deviceId: d.id, secret: secrets[d.id]!, site: plan.site, dataDir: o.dataDir,
      clockSkewMs: skew, duplicateRate: o.duplicateRate, rng: mulberry32(deriveSeed(o.seed, `dpu:${d.id}`)), log: o.log,
      ...(o.ackTimeoutMs !== undefined ? { ackTimeoutMs: o.ackTimeoutMs } : {}),
      ...(o.onAcked ? { onAcked: (cs: readonly HeldCrossing[]) => o.onAcked!(d.id, cs) } : {}),
    }));
  }
  return { fws, skews };
}

/**
 * Simulates walkers in a building and plays every crossing through the DPU firmware of its
 * doorway, over MQTT, in simulated-time order, faster than real time unless `speed` is given.
 * One DPU may be taken offline for a stretch of simulated time and replays its buffer in bulk
 * after. Resolves when every DPU's crossings were acknowledged by the broker.
 */
export async function runBuildingSim(opts: BuildingSimOptions): Promise<BuildingSimResult> {
  const log = opts.log ?? createLogger("building-sim");
  const speed = opts.speed ?? Infinity;
  if (!(speed > 0)) throw new RangeError("speed must be positive");
  const sim = simulateWalkers({ plan: opts.plan, walkers: opts.walkers, startTs: opts.startTs, durationMs: opts.durationMs, seed: opts.seed, ...opts.walk });
  const { fws, skews } = firmwareFor(opts.plan, opts.secrets, {
    mqttUrl: opts.mqttUrl, mqttCa: opts.mqttCa, dataDir: opts.dataDir, seed: opts.seed,
    duplicateRate: opts.duplicateRate ?? 0, maxSkewMs: Math.max(0, opts.maxSkewMs ?? 0), log, ackTimeoutMs: opts.ackTimeoutMs,
  });
  const outage = opts.outage;
  if (outage && !fws.has(outage.device)) throw new Error(`outage device "${outage.device}" is not a dpu of the plan`);
  if (outage && !(outage.toMs > outage.fromMs)) throw new RangeError("outage needs fromMs < toMs");

  const runTag = randomBytes(4).toString("hex");
  const total = sim.crossings.length;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
  log.info({ site: opts.plan.site, walkers: opts.walkers, crossings: total, dpus: fws.size, runTag }, "building simulation starting");
  try {
    await Promise.all([...fws.values()].map((f) => f.start()));
    await waitOnline([...fws.values()], 15_000, opts.mqttUrl, 100);

    let done = 0;
    const failures: Error[] = [];
    const open = new Set<Promise<void>>();
    let outageState: "before" | "during" | "after" = "before";
    const realStart = performance.now();
    for (const [i, c] of sim.crossings.entries()) {
      const offset = c.ts - opts.startTs;
      if (outage && outageState === "before" && offset >= outage.fromMs) {
        outageState = "during";
        await fws.get(outage.device)!.goOffline();
      }
      if (outage && outageState === "during" && offset >= outage.toMs) {
        outageState = "after";
        await fws.get(outage.device)!.goOnline();
      }
      if (Number.isFinite(speed)) {
        const wait = realStart + offset / speed - performance.now();
        if (wait > 0) await sleep(wait);
      }
      while (open.size >= maxInFlight) await Promise.race(open);
      const p = fws.get(c.device)!
        .record({ id: `${runTag}-${i}`, ts: c.ts, doorway: c.doorway, delta: c.delta })
        .then(() => {
          done++;
          try { opts.onProgress?.(done, total); } catch (e) { log.warn({ err: e }, "onProgress threw"); }
        }, (e: Error) => { failures.push(e); })
        .finally(() => open.delete(p));
      open.add(p);
    }
    await Promise.all(open);
    if (outage && outageState === "during") await fws.get(outage.device)!.goOnline();
    if (failures.length > 0) throw new Error(`${failures.length} crossing(s) could not be recorded: ${failures[0]!.message}`);
    await Promise.all([...fws.values()].map((f) => f.flush()));

    const sum = (k: "sent" | "duplicatesSent" | "buffered" | "replayed" | "ackTimeouts") => [...fws.values()].reduce((n, f) => n + f.counters[k], 0);
    const result: BuildingSimResult = {
      truth: sim.truth, crossings: total, sent: sum("sent"), duplicatesSent: sum("duplicatesSent"),
      buffered: sum("buffered"), replayed: sum("replayed"), ackTimeouts: sum("ackTimeouts"), runTag, skews,
    };
    log.info({ site: opts.plan.site, crossings: total, sent: result.sent, duplicatesSent: result.duplicatesSent, replayed: result.replayed }, "building simulation done");
    return result;
  } finally {
    await Promise.all([...fws.values()].map((f) => f.stop()));
  }
}

export interface LiveDemoOptions {
  mqttUrl: string;
  /** PEM CA the broker's certificate must verify against (mqtts://) */
  mqttCa?: Buffer | string;
  plan: BuildingPlan;
  secrets: Record<string, string>;
  dataDir: string;
  /** stops the demo */
  signal: AbortSignal;
  seed?: number;
  /** mean walkers arriving per minute (Poisson arrivals; default 30) */
  arrivalsPerMinute?: number;
  duplicateRate?: number;
  maxSkewMs?: number;
  walk?: Partial<JourneyOptions>;
  /** called for every crossing as its DPU records it, with the event id it is sent under */
  onCrossing?: (c: SimCrossing, id: string) => void;
  /** called with the crossings of every publish the broker acknowledged to `device` (second copies and replays included) */
  onAcked?: (device: string, crossings: readonly HeldCrossing[]) => void;
  /** once `signal` aborts, the DPUs get up to this long (read then) to send what they hold before they stop; default: 1 s for what is in flight */
  drainMs?: number;
  log?: Logger;
}

export interface LiveDemoResult {
  walkers: number; crossings: number; sent: number; duplicatesSent: number;
  /** crossings still in a DPU's disk buffer when it stopped (sent at the next start) */
  held: number;
}

/**
 * The building in real time, until `signal` aborts: walkers keep arriving (Poisson), walk and
 * leave, and each crossing is recorded by its DPU at the moment it happens (event time = now).
 * The DPUs keep retrying while the broker is away and replay their buffers when it is back.
 */
export async function runLiveDemo(opts: LiveDemoOptions): Promise<LiveDemoResult> {
  const log = opts.log ?? createLogger("live-demo");
  const seed = opts.seed ?? Date.now() >>> 0;
  const graph = new FloorGraph(opts.plan);
  const { fws } = firmwareFor(opts.plan, opts.secrets, {
    mqttUrl: opts.mqttUrl, mqttCa: opts.mqttCa, dataDir: opts.dataDir, seed,
    duplicateRate: opts.duplicateRate ?? 0, maxSkewMs: Math.max(0, opts.maxSkewMs ?? 0), log, onAcked: opts.onAcked,
  });
  const journey: JourneyOptions = { ...DEFAULT_JOURNEY, ...opts.walk };
  const meanGapMs = 60_000 / Math.max(0.001, opts.arrivalsPerMinute ?? 30);
  const rng = mulberry32(deriveSeed(seed, "live"));
  const queue = new CrossingQueue();
  const instants = new DistinctInstants();
  const stats: LiveDemoResult = { walkers: 0, crossings: 0, sent: 0, duplicatesSent: 0, held: 0 };
  // event ids unique across the DPUs and across runs
  const runTag = randomBytes(4).toString("hex");
  let nextArrival = Date.now() + exponential(rng, meanGapMs);
  let lastForget = Date.now();
  log.info({ site: opts.plan.site, dpus: fws.size, arrivalsPerMinute: 60_000 / meanGapMs }, "live demo starting");
  try {
    await Promise.all([...fws.values()].map((f) => f.start()));
    while (!opts.signal.aborted) {
      const now = Date.now();
      while (nextArrival <= now + 1000) {
        for (const c of walkerJourney(graph, rng, `w${stats.walkers}`, nextArrival, journey, instants)) queue.push(c);
        stats.walkers++;
        nextArrival += exponential(rng, meanGapMs);
      }
      for (let c = queue.peek(); c && c.ts <= now; c = queue.peek()) {
        queue.pop();
        const id = `${runTag}-${stats.crossings++}`;
        opts.onCrossing?.(c, id);
        fws.get(c.device)!.record({ id, ts: c.ts, doorway: c.doorway, delta: c.delta })
          .catch((e: Error) => log.warn({ err: e, device: c.device }, "crossing not recorded"));
      }
      if (now - lastForget > 60_000) { instants.forgetBefore(now - 60_000); lastForget = now; }
      const due = Math.min(queue.peek()?.ts ?? Infinity, nextArrival - 1000);
      await sleep(Math.max(5, Math.min(250, due - Date.now())), undefined, { signal: opts.signal }).catch(() => {});
    }
    if (opts.drainMs) {
      const drained = Promise.all([...fws.values()].map((f) => f.flush())).then(() => true, () => false);
      const ok = await Promise.race([drained, sleep(opts.drainMs).then(() => false)]);
      log.info({ drained: ok }, ok ? "every crossing acknowledged" : "crossings still held after the drain");
    }
  } finally {
    await Promise.all([...fws.values()].map((f) => f.stop()));
    for (const f of fws.values()) { stats.sent += f.counters.sent; stats.duplicatesSent += f.counters.duplicatesSent; stats.held += f.bufferedNow; }
    log.info({ ...stats }, "live demo stopped");
  }
  return stats;
}
