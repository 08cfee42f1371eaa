import fs from "node:fs";
import path from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { demoMall, toTopologyDoc, type BuildingPlan } from "../../firmware-sim/building.ts";
import { runBuildingSim, type BuildingSimResult } from "../../firmware-sim/building-run.ts";
import { uniqueNs } from "../../actors/runtime/point-time.ts";
import { crossingMsgId } from "../../contracts/crossing.ts";
import { actorBodies } from "../../contracts/actor-batch.ts";
import { ActorKinds, actorSubject, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import type { ClusterLab } from "./cluster-lab.ts";
import { retry, whileUnavailable } from "../support/retry.ts";
import { describeStreamState, readSubject } from "../support/stream-read.ts";

/** A fault injected while the load runs; `heal` (if any) runs `lastsMs` later. */
export interface Fault {
  name: string;
  inject(lab: ClusterLab): Promise<void>;
  lastsMs?: number;
  heal?(lab: ClusterLab): Promise<void>;
}

export interface RoundReport {
  fault: string;
  crossings: number;
  sent: number;
  /** longest time without any acknowledged crossing while the load ran (ms) */
  longestAckGapMs: number;
  /** from the last acknowledgement until every sampled count equals ground truth (ms) */
  convergeMs: number;
  /** sampled (space, instant) counts that differ from ground truth, after the doorways whose raw crossings differ; empty when exact */
  mismatches: string[];
  /** sequences FF_ACTORS's leader holds as deleted after the round (nothing deletes from it: should be 0) */
  streamDeleted: number | string;
}

export interface RoundOptions {
  site: string;
  seed: number;
  fault: Fault;
  walkers?: number;
  /** simulated minutes of crossings */
  minutes?: number;
  /** simulated ms per real ms */
  speed?: number;
  /** the fault is injected once this share of the crossings was acknowledged */
  at?: number;
  /** the brokers the devices are given (default every node's) */
  mqttUrl?: string;
  /** how long to wait for the counts to equal ground truth */
  convergeTimeoutMs?: number;
}

/**
 * One chaos round: a simulated building's DPUs publish a steady stream of crossings (5 % sent
 * twice, clocks skewed) to the lab's brokers; once `at` of them were acknowledged the fault is
 * injected (and healed after `lastsMs`); then every space's count and the site total at 20
 * sampled instants must equal ground truth. Each round has a site of its own, so rounds do not
 * see each other's crossings.
 */
export async function runChaosRound(lab: ClusterLab, o: RoundOptions): Promise<RoundReport> {
  const plan: BuildingPlan = demoMall(o.site, { siteScopedDpus: true });
  const secrets = Object.fromEntries(plan.dpus.map((d) => [d.id, `secret-${o.site}-${d.id}`]));
  // after the previous round's fault the cluster may still be electing leaders (503)
  const put = await whileUnavailable(() => lab.admin("PUT", `/api/v1/sites/${o.site}/topology`, toTopologyDoc(plan, secrets)));
  if (put.status !== 200) throw new Error(`topology refused: ${put.status} ${await put.text()}`);
  // every broker's registry follows KV: give them a moment to see the devices
  await new Promise((r) => setTimeout(r, 1000));

  const dataDir = path.join(lab.services.dataDir, `sim-${o.site}`);
  fs.mkdirSync(dataDir, { recursive: true });
  let faultDone: Promise<void> | undefined;
  let lastAck = Date.now();
  let longestAckGapMs = 0;
  let lastDone = 0;
  const result: BuildingSimResult = await runBuildingSim({
    mqttUrl: o.mqttUrl ?? lab.mqttUrls.join(","),
    plan,
    secrets,
    walkers: o.walkers ?? 120,
    durationMs: (o.minutes ?? 4) * 60_000,
    startTs: Date.now() - 60 * 60_000,
    seed: o.seed,
    duplicateRate: 0.05,
    maxSkewMs: 200,
    speed: o.speed ?? 8,
    dataDir,
    onProgress: (done, total) => {
      const now = Date.now();
      if (done > lastDone) {
        longestAckGapMs = Math.max(longestAckGapMs, now - lastAck);
        lastAck = now;
        lastDone = done;
      }
      if (!faultDone && done >= total * (o.at ?? 0.3)) {
        faultDone = (async () => {
          await o.fault.inject(lab);
          if (o.fault.heal) {
            await new Promise((r) => setTimeout(r, o.fault.lastsMs ?? 0));
            await o.fault.heal(lab);
          }
        })();
      }
    },
  });
  await faultDone;
  const loadEnded = lastAck;

  const samples = result.truth.sampleTimes(20, { avoidWithinMs: 250 });
  let mismatches: string[] = [];
  const deadline = Date.now() + (o.convergeTimeoutMs ?? 90_000);
  for (;;) {
    mismatches = [];
    for (const t of samples) {
      const at = new Date(t).toISOString();
      for (const space of plan.spaces) {
        const body = await countAt(lab, `/api/v1/sites/${o.site}/spaces/${space.id}/count?at=${at}`);
        const want = result.truth.countAt(space.id, t);
        if (body !== want) mismatches.push(`${space.id}@${at}: got ${body}, truth ${want}`);
      }
      const site = await countAt(lab, `/api/v1/sites/${o.site}/count?at=${at}`);
      const want = result.truth.siteCountAt(t);
      if (site !== want) mismatches.push(`site@${at}: got ${site}, truth ${want}`);
    }
    if (mismatches.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  let streamDeleted: number | string;
  try {
    const nc = await connectNats(lab.natsUrls, "chaos-diagnosis");
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5000 });
      // not exact: which doorways' raw crossings (one point per distinct crossing the doorway actors
      // admitted) differ from the truth, to tell a crossing lost or admitted twice from a count gone
      // wrong, and what each replica of FF_ACTORS holds
      if (mismatches.length > 0) mismatches.unshift(...await rawCrossingDiff(lab, nc, o.site, result), await replicaStates(lab, nc, jsm));
      streamDeleted = (await retry(() => jsm.streams.info(STREAM_ACTORS))).state.num_deleted ?? 0;
    } finally {
      await nc.close();
    }
  } catch (e) {
    streamDeleted = `not read: ${(e as Error).message}`;
  }
  return {
    fault: o.fault.name,
    streamDeleted,
    crossings: result.crossings,
    sent: result.sent,
    longestAckGapMs,
    convergeMs: Date.now() - loadEnded,
    mismatches,
  };
}

/**
 * For every doorway whose raw crossing points differ from the truth: how many points it has, and
 * where its missing crossings were lost: not in FF_ACTORS at all (the store lost or never had an
 * acknowledged crossing), or in the stream with no raw point (the actor hosts lost it).
 */
async function rawCrossingDiff(lab: ClusterLab, nc: NatsConnection, site: string, result: BuildingSimResult): Promise<string[]> {
  const out: string[] = [];
  try {
    const influx = influxClient(lab.services.influxUrl, lab.cfg.influxDb);
    const want = new Map<string, { n: number; net: number }>();
    for (const c of result.truth.crossings) {
      const w = want.get(c.doorway) ?? { n: 0, net: 0 };
      w.n++;
      w.net += c.delta;
      want.set(c.doorway, w);
    }
    for (const [doorway, w] of want) {
      const rows = await influx.query<{ time: { getNanoTime(): string }; delta: number }>(
        `SELECT "delta" FROM "${MEASUREMENT_CROSSINGS}" WHERE "site" = '${site}' AND "doorway" = '${doorway}'`, { precision: "n" });
      const points = new Set((rows as unknown as Array<{ time: { getNanoTime(): string } }>).map((r) => r.time.getNanoTime()));
      const net = (rows as unknown as Array<{ delta: number }>).reduce((s, r) => s + r.delta, 0);
      if (points.size === w.n && net === w.net) continue;
      const inStream = (await readSubject(nc, STREAM_ACTORS, actorSubject(ActorKinds.doorway, `${site}.${doorway}`, lab.cfg.partitions)))
        .flatMap((m) => (actorBodies(m.json<unknown>()) as Array<{ eventId: string; device: string; ts: number }>).map((c) => ({ ...c, seq: m.seq })));
      const ids = new Set(inStream.map((m) => m.eventId));
      const truthIds = result.truth.crossings.flatMap((c, i) => (c.doorway === doorway ? [`${result.runTag}-${i}`] : []));
      const notStored = truthIds.filter((id) => !ids.has(id));
      const noPoint = [...new Map(inStream.map((m) => [m.eventId, m])).values()]
        .filter((m) => !points.has(uniqueNs(m.ts, crossingMsgId(m.device, m.eventId))))
        .map((m) => `${m.eventId} (stream seq ${m.seq})`);
      out.push(`raw crossings of doorway ${doorway}: got ${points.size} (net ${net}), truth ${w.n} (net ${w.net}); ` +
        `not in FF_ACTORS: [${notStored.join(", ")}]; in FF_ACTORS without a raw point: [${noPoint.join(", ")}]`);
    }
    return out.length ? out : ["raw crossings of every doorway equal the truth"];
  } catch (e) {
    return [...out, `raw crossings not read: ${(e as Error).message}`];
  }
}

/**
 * FF_ACTORS as each of its replicas holds it: the leader is asked to step down until every node
 * has led once, and each leader's count of messages, sequence range and deleted (skipped)
 * sequences is listed. Nothing is ever deleted from FF_ACTORS, so a replica with deleted
 * sequences, or with fewer messages than another, lost messages in the store itself.
 */
async function replicaStates(lab: ClusterLab, nc: NatsConnection, jsm: JetStreamManager): Promise<string> {
  try {
    const seen = new Map<string, string>();
    for (let i = 0; i < 8 && seen.size < lab.machines.length; i++) {
      const info = await retry(() => jsm.streams.info(STREAM_ACTORS));
      const leader = info.cluster?.leader ?? "?";
      seen.set(leader, `${leader}: ${describeStreamState(info.state)}`);
      await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${STREAM_ACTORS}`, undefined, { timeout: 5000 }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 3000));
    }
    return `FF_ACTORS by leader: ${[...seen.values()].join("; ")}`;
  } catch (e) {
    return `FF_ACTORS replicas not read: ${(e as Error).message}`;
  }
}

async function countAt(lab: ClusterLab, pathname: string): Promise<number | string> {
  try {
    const r = await lab.fetch(pathname);
    const body = (await r.json()) as { count?: number };
    return r.status === 200 && typeof body.count === "number" ? body.count : `${r.status}`;
  } catch (e) {
    return `unreachable (${(e as Error).message})`;
  }
}

/** The faults of the chaos suite: one SIGKILL of each kind of process, a whole node, a partition, influxd down. */
export const faults = {
  kill: (kind: "broker" | "host", node: number, downMs = 2000): Fault => ({
    name: `SIGKILL ${kind} on node-${node + 1}, started again after ${downMs / 1000} s`,
    inject: (lab) => lab.proc(kind, node).kill(),
    lastsMs: downMs,
    heal: (lab) => lab.proc(kind, node).start(),
  }),
  killNats: (node: number): Fault => ({
    name: `SIGKILL nats-server on node-${node + 1} (its supervisor starts it again)`,
    inject: (lab) => lab.machines[node]!.nats.kill(),
  }),
  /** the nats-server leading FF_ACTORS when the fault strikes: every publish in flight to the stream waits for a new leader */
  killNatsLeader: (): Fault => ({
    name: "SIGKILL the nats-server leading FF_ACTORS (its supervisor starts it again)",
    inject: async (lab) => {
      const nc = await connectNats(lab.cfg.natsUrl!, "chaos-fault");
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        const leader = (await retry(() => jsm.streams.info(STREAM_ACTORS))).cluster?.leader;
        const machine = lab.machines.find((m) => m.nats.server.serverName === leader);
        if (!machine) throw new Error(`FF_ACTORS is led by ${leader ?? "no one"}, not a node of the lab`);
        await machine.nats.kill();
      } finally {
        await nc.close();
      }
    },
  }),
  node: (node: number, downMs = 5000): Fault => ({
    name: `whole node-${node + 1} SIGKILLed (nats-server, broker, host); nats-server restarted by its supervisor, broker and host after ${downMs / 1000} s`,
    inject: (lab) => lab.killNode(node),
    lastsMs: downMs,
    heal: (lab) => lab.startNode(node),
  }),
  partition: (node: number, lastsMs: number): Fault => ({
    name: `node-${node + 1} cut off from the network for ${lastsMs / 1000} s`,
    inject: (lab) => lab.machines[node]!.node.isolate(),
    lastsMs,
    heal: (lab) => lab.machines[node]!.node.heal(),
  }),
  influxd: (lastsMs: number): Fault => ({
    name: `influxd down for ${lastsMs / 1000} s`,
    inject: async (lab) => { await lab.services.influxd!.kill(); },
    lastsMs,
    heal: async (lab) => { await lab.restartInfluxd(); },
  }),
};
