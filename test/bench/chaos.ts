/**
 * The full chaos set (a script, not a test; the reduced set runs in `npm test` as
 * test/chaos/faults.test.ts): a three-node cluster in network namespaces (needs root), a steady
 * load of DPU crossings, and one fault per round: a SIGKILL of each kind of process on each
 * node, each whole node, a 60 s partition of each node, influxd down for 2 minutes. After each
 * round every space's count at 20 sampled instants must equal ground truth. Prints one line per
 * round and a closing JSON object; exits 1 when any round was not exact.
 *
 *   npx tsx test/bench/chaos.ts [--partition-s 60] [--influx-down-s 120] [--only kill|node|partition|influxd]
 */
import { Command } from "commander";
import { canMakeNamespaces } from "../support/netns.ts";
import { faults, runChaosRound, type Fault, type RoundReport } from "../chaos/chaos-round.ts";
import { startClusterLab } from "../chaos/cluster-lab.ts";

const opts = new Command()
  .option("--partition-s <s>", "how long a node is cut off", "60")
  .option("--influx-down-s <s>", "how long influxd is down", "120")
  .option("--only <kind>", "run only one kind of fault: kill, node, partition or influxd")
  .parse()
  .opts<{ partitionS: string; influxDownS: string; only?: string }>();

if (!(await canMakeNamespaces())) {
  console.error("chaos bench: needs root and iproute2 (network namespaces)");
  process.exit(2);
}

const plan: Array<[kind: string, fault: Fault]> = [];
for (let node = 0; node < 3; node++) {
  plan.push(["kill", faults.killNats(node)]);
  for (const kind of ["broker", "host"] as const) plan.push(["kill", faults.kill(kind, node)]);
}
for (let node = 0; node < 3; node++) plan.push(["node", faults.node(node)]);
for (let node = 0; node < 3; node++) plan.push(["partition", faults.partition(node, Number(opts.partitionS) * 1000)]);
plan.push(["influxd", faults.influxd(Number(opts.influxDownS) * 1000)]);

const lab = await startClusterLab();
const reports: RoundReport[] = [];
try {
  let n = 0;
  for (const [kind, fault] of plan) {
    n++;
    if (opts.only && opts.only !== kind) continue;
    const r = await runChaosRound(lab, { site: `chaos-bench-${n}`, seed: 1000 + n, fault, walkers: 200, minutes: 6, convergeTimeoutMs: 180_000 });
    reports.push(r);
    console.log(`${r.mismatches.length === 0 ? "exact" : "NOT EXACT"}  ${r.fault}: ${r.crossings} crossings, longest pause in acknowledgements ${(r.longestAckGapMs / 1000).toFixed(1)} s, counts exact ${(r.convergeMs / 1000).toFixed(1)} s after the load`);
    for (const m of r.mismatches.slice(0, 5)) console.log(`    ${m}`);
  }
} finally {
  await lab.stop();
}
console.log(JSON.stringify({
  rounds: reports.length,
  exact: reports.filter((r) => r.mismatches.length === 0).length,
  crossings: reports.reduce((s, r) => s + r.crossings, 0),
  worstAckGapS: Math.max(...reports.map((r) => r.longestAckGapMs)) / 1000,
  worstConvergeS: Math.max(...reports.map((r) => r.convergeMs)) / 1000,
}, null, 2));
process.exit(reports.every((r) => r.mismatches.length === 0) ? 0 : 1);
