import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../infra/nats.ts";
import { TrackUpdate } from "../../contracts/events.ts";
import { runInProcess, type InProcessResult } from "../accuracy/in-process-run.ts";
import { runTrackingScenario, type TrackingScenarioRun } from "../e2e/tracking-scenario.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { faults, runChaosRound, type Fault, type RoundReport } from "./chaos-round.ts";
import { startClusterLab, type ClusterLab } from "./cluster-lab.ts";

/**
 * Faults with real processes on three "machines" (network namespaces), each running a nats-server
 * of one JetStream cluster, a broker and an actor host, under a steady load of DPU crossings and
 * smart cameras' frames from a fourth (this process): an actor host, a broker, a nats-server and
 * the nats-server leading FF_ACTORS SIGKILLed, a whole node SIGKILLed, a node cut off, influxd
 * down. After each fault every acknowledged crossing is counted exactly once: every space's count
 * at 20 sampled instants equals ground truth. At the end, the cameras' persons and zone figures
 * equal an undisturbed run of the same frames.
 * The full, longer set is test/bench/chaos.ts.
 */
/** Which frames' track.update events differ from the undisturbed run's (camera:seq, at most 10 of each). */
function trackUpdateDifferences(run: TrackingScenarioRun, alone: InProcessResult): string {
  const byFrame = (us: TrackUpdate[]) => new Map(us.map((u) => [`${u.camera}:${u.seq}`, JSON.stringify(u.boxes)]));
  const got = byFrame(run.trackUpdates);
  const want = byFrame(alone.pipeline.events.filter((e) => e.subject.startsWith("evt.track.")).map((e) => TrackUpdate.parse(e.body)));
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const extra = [...got.keys()].filter((k) => !want.has(k));
  const changed = [...want].filter(([k, boxes]) => got.has(k) && got.get(k) !== boxes).map(([k]) => k);
  return `track.update events against the undisturbed run: ${missing.length} missing [${missing.slice(0, 10).join(", ")}], ` +
    `${extra.length} extra [${extra.slice(0, 10).join(", ")}], ${changed.length} with other boxes [${changed.slice(0, 10).join(", ")}]`;
}

const ok = await canMakeNamespaces();
const reports: RoundReport[] = [];
const CAM_WALKERS = 40, CAM_MINUTES = 4, CAM_SEED = 21;

describe.skipIf(!ok)("chaos: one fault at a time on a three-node cluster", { timeout: 300_000 }, () => {
  let lab: ClusterLab;
  let nc: NatsConnection;
  let cameras: Promise<TrackingScenarioRun>;
  beforeAll(async () => {
    // the linker waits for a camera whose partition was held up by a fault (as in the tracking
    // test), and links without waiting only after a quiet spell longer than any fault here holds
    // every camera up (influxd down 30 s); a camera's frames re-sent after a failover (up to its
    // 10 s PUBACK wait) are within the reorder window (docs/limits.md)
    lab = await startClusterLab({ partitions: 3, overrides: { linkerWaitMs: 30 * 60_000, linkerQuietMs: 45_000, cameraReorderMs: 20_000 } });
    nc = await connectNats(lab.cfg.natsUrl!, "chaos-test");
    // smart cameras publish in real time, from the first round to past the partition
    cameras = runTrackingScenario({ ...lab, mqttUrl: lab.mqttUrls.join(",") }, nc, { walkers: CAM_WALKERS, minutes: CAM_MINUTES, seed: CAM_SEED, speed: 1 });
    cameras.catch(() => {});
  }, 180_000);
  afterAll(async () => {
    for (const r of reports) {
      console.log(`${r.fault}: ${r.crossings} crossings (${r.sent} sent), longest pause in acknowledgements ${(r.longestAckGapMs / 1000).toFixed(1)} s, counts exact ${(r.convergeMs / 1000).toFixed(1)} s after the load; FF_ACTORS deleted sequences: ${r.streamDeleted}`);
    }
    await nc?.close();
    await lab?.stop();
  });

  const round = (n: number, fault: () => Fault) => async () => {
    const report = await runChaosRound(lab, { site: `chaos-${n}`, seed: 100 + n, fault: fault(), walkers: 100, minutes: 3, speed: 10 });
    reports.push(report);
    expect(report.mismatches.slice(0, 10)).toEqual([]);
  };

  it("an actor host SIGKILLed", round(1, () => faults.kill("host", 0)));
  it("a broker SIGKILLed", round(2, () => faults.kill("broker", 1)));
  // node-3's nats-server, which may or may not lead FF_ACTORS; actor hosts connected through it
  // lose messages on their way to them (seed 103 lost one such move before partition feeds
  // checked their delivery sequence)
  it("a nats-server SIGKILLed", round(3, () => faults.killNats(2)));
  it("the nats-server leading FF_ACTORS SIGKILLed", round(7, () => faults.killNatsLeader()));
  it("a whole node SIGKILLed", round(4, () => faults.node(0)));
  it("a node cut off from the others and from the devices, then healed", round(5, () => faults.partition(1, 20_000)));
  it("influxd down for 30 s", round(6, () => faults.influxd(30_000)));

  it("the cameras' persons and zone figures through all of it equal an undisturbed run of the same frames", async () => {
    const run = await cameras;
    const alone = await runInProcess({ walkers: CAM_WALKERS, durationMs: CAM_MINUTES * 60_000, startTs: run.simOptions.startTs, seed: CAM_SEED, fps: 5 });
    const key = (f: typeof run.figures) => ({
      idf1: f.tracking.crossCamera.idf1, idsw: f.tracking.crossCamera.idsw, mota: f.tracking.crossCamera.mota,
      tracks: f.distance.systemTracks, meanDistance: Math.round(f.distance.systemMean * 100) / 100,
      zones: f.zones.relativeAbsError,
    });
    console.log(run.figures.report);
    if (JSON.stringify(key(run.figures)) !== JSON.stringify(key(alone.figures))) console.log(trackUpdateDifferences(run, alone));
    expect(run.lateFrames).toBe(0);
    expect(key(run.figures)).toEqual(key(alone.figures));
  }, 400_000);
});
