/**
 * The full chaos set (a script, not a test; the reduced set runs in `npm test` as
 * test/chaos/faults.test.ts): a three-node cluster in network namespaces (needs root), a steady
 * load of DPU crossings and smart cameras' frames, and one fault per round: a SIGKILL of each
 * kind of process on each node and of the nats-server leading FF_ACTORS, each whole node, a 60 s partition of each node, influxd down for
 * 2 minutes. After each round every space's count at 20 sampled instants must equal ground truth.
 * The cameras publish in real time from the first round on (for --camera-minutes); at the end
 * their persons and zone figures must equal an undisturbed run of the same frames. Prints one
 * line per round and a closing JSON object; exits 1 when any round was not exact or the cameras'
 * figures differ; the nodes' broker, host and nats-server logs are then kept in a temporary folder it names.
 *
 *   npx tsx test/bench/chaos.ts [--partition-s 60] [--influx-down-s 120] [--only kill,nats,node,partition,influxd]
 *                               [--camera-minutes 25] (0: no cameras)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { connectNats } from "../../infra/nats.ts";
import { runInProcess } from "../accuracy/in-process-run.ts";
import { runTrackingScenario } from "../e2e/tracking-scenario.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { faults, runChaosRound, type Fault, type RoundReport } from "../chaos/chaos-round.ts";
import { startClusterLab } from "../chaos/cluster-lab.ts";

const opts = new Command()
  .option("--partition-s <s>", "how long a node is cut off", "60")
  .option("--influx-down-s <s>", "how long influxd is down", "120")
  .option("--only <kind>", "run only these kinds of fault (comma-separated): kill (broker, host), nats, node, partition, influxd")
  .option("--camera-minutes <n>", "how long the smart cameras publish (in real time, from the first round)", "25")
  .parse()
  .opts<{ partitionS: string; influxDownS: string; only?: string; cameraMinutes: string }>();
const CAM_WALKERS = 40, CAM_SEED = 21, CAM_MINUTES = Number(opts.cameraMinutes);

if (!(await canMakeNamespaces())) {
  console.error("chaos bench: needs root and iproute2 (network namespaces)");
  process.exit(2);
}

const plan: Array<[kind: string, fault: Fault]> = [];
for (let node = 0; node < 3; node++) {
  plan.push(["nats", faults.killNats(node)]);
  for (const kind of ["broker", "host"] as const) plan.push(["kill", faults.kill(kind, node)]);
}
plan.push(["nats", faults.killNatsLeader()]);
for (let node = 0; node < 3; node++) plan.push(["node", faults.node(node)]);
for (let node = 0; node < 3; node++) plan.push(["partition", faults.partition(node, Number(opts.partitionS) * 1000)]);
plan.push(["influxd", faults.influxd(Number(opts.influxDownS) * 1000)]);

// the linker waits for a camera whose partition was held up by a fault, and links without waiting
// only after a quiet spell longer than any fault here holds every camera up; a camera's frames
// re-sent after a failover (up to its 10 s PUBACK wait) are within the reorder window (docs/limits.md)
const linkerQuietMs = (Math.max(Number(opts.influxDownS), Number(opts.partitionS)) + 15) * 1000;
const lab = await startClusterLab({ partitions: 3, overrides: { linkerWaitMs: 2 * CAM_MINUTES * 60_000, linkerQuietMs, cameraReorderMs: 20_000 } });
const reports: RoundReport[] = [];
/** the nodes' broker, host and nats-server logs, copied out of the lab's data folder (removed at the end) once something went wrong */
let keptLogs: string | undefined;
const keepLogs = () => {
  keptLogs ??= fs.mkdtempSync(path.join(os.tmpdir(), "footfall-chaos-logs-"));
  lab.copyLogs(keptLogs);
  console.log(`logs of the nodes' processes kept in ${keptLogs}`);
};
let camerasSame: boolean | undefined;
try {
  const nc = await connectNats(lab.cfg.natsUrl!, "chaos-bench");
  const cameras = CAM_MINUTES > 0
    ? runTrackingScenario({ ...lab, mqttUrl: lab.mqttUrls.join(",") }, nc, { walkers: CAM_WALKERS, minutes: CAM_MINUTES, seed: CAM_SEED, speed: 1 })
    : undefined;
  cameras?.catch(() => {});
  const roundsStart = Date.now();
  let n = 0;
  for (const [kind, fault] of plan) {
    n++;
    if (opts.only && !opts.only.split(",").includes(kind)) continue;
    const r = await runChaosRound(lab, { site: `chaos-bench-${n}`, seed: 1000 + n, fault, walkers: 200, minutes: 6, convergeTimeoutMs: 180_000 });
    reports.push(r);
    console.log(`${r.mismatches.length === 0 ? "exact" : "NOT EXACT"}  ${r.fault}: ${r.crossings} crossings, longest pause in acknowledgements ${(r.longestAckGapMs / 1000).toFixed(1)} s, counts exact ${(r.convergeMs / 1000).toFixed(1)} s after the load; FF_ACTORS deleted sequences: ${r.streamDeleted}`);
    for (const m of r.mismatches.slice(0, 5)) console.log(`    ${m}`);
    if (r.mismatches.length) keepLogs();
  }
  if (cameras) {
    const roundsS = (Date.now() - roundsStart) / 1000;
    if (roundsS > CAM_MINUTES * 60) console.log(`note: the rounds took ${Math.round(roundsS)} s, the cameras published for ${CAM_MINUTES * 60} s of them`);
    const run = await cameras;
    const alone = await runInProcess({ walkers: CAM_WALKERS, durationMs: CAM_MINUTES * 60_000, startTs: run.simOptions.startTs, seed: CAM_SEED, fps: 5 });
    const key = (f: typeof run.figures) => ({
      idf1: f.tracking.crossCamera.idf1, idsw: f.tracking.crossCamera.idsw, mota: f.tracking.crossCamera.mota,
      tracks: f.distance.systemTracks, meanDistance: Math.round(f.distance.systemMean * 100) / 100,
      zones: f.zones.relativeAbsError, lateFrames: 0,
    });
    const got = { ...key(run.figures), lateFrames: run.lateFrames }, want = key(alone.figures);
    camerasSame = JSON.stringify(got) === JSON.stringify(want);
    if (!camerasSame) keepLogs();
    console.log(`${camerasSame ? "same" : "DIFFERENT"}  cameras (${run.sim.frames} frames over ${CAM_MINUTES} min) through all rounds: ${JSON.stringify(got)}${camerasSame ? "" : `, undisturbed ${JSON.stringify(want)}`}`);
  }
  await nc.close();
} catch (err) {
  console.log(`round failed: ${(err as Error).stack ?? String(err)}`);
  keepLogs();
  process.exitCode = 1;
} finally {
  await lab.stop();
}
console.log(JSON.stringify({
  rounds: reports.length,
  exact: reports.filter((r) => r.mismatches.length === 0).length,
  crossings: reports.reduce((s, r) => s + r.crossings, 0),
  worstAckGapS: Math.max(...reports.map((r) => r.longestAckGapMs)) / 1000,
  worstConvergeS: Math.max(...reports.map((r) => r.convergeMs)) / 1000,
  ...(camerasSame !== undefined ? { camerasEqualUndisturbed: camerasSame } : {}),
}, null, 2));
process.exit(process.exitCode === 1 || !reports.every((r) => r.mismatches.length === 0) || camerasSame === false ? 1 : 0);
