import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canMakeNamespaces } from "../support/netns.ts";
import { faults, runChaosRound, type Fault, type RoundReport } from "./chaos-round.ts";
import { startClusterLab, type ClusterLab } from "./cluster-lab.ts";

/**
 * Faults with real processes on three "machines" (network namespaces), each running a nats-server
 * of one JetStream cluster, a broker and an actor host, under a steady load of DPU crossings from a
 * fourth (this process). After each fault every acknowledged crossing is counted exactly once:
 * every space's count at 20 sampled instants equals ground truth.
 * The full, longer set is test/bench/chaos.ts.
 */
const ok = await canMakeNamespaces();
const reports: RoundReport[] = [];

describe.skipIf(!ok)("chaos: one fault at a time on a three-node cluster", { timeout: 300_000 }, () => {
  let lab: ClusterLab;
  beforeAll(async () => { lab = await startClusterLab(); }, 180_000);
  afterAll(async () => {
    for (const r of reports) {
      console.log(`${r.fault}: ${r.crossings} crossings (${r.sent} sent), longest pause in acknowledgements ${(r.longestAckGapMs / 1000).toFixed(1)} s, counts exact ${(r.convergeMs / 1000).toFixed(1)} s after the load`);
    }
    await lab?.stop();
  });

  const round = (n: number, fault: () => Fault, mqtt?: (lab: ClusterLab) => string) => async () => {
    const report = await runChaosRound(lab, { site: `chaos-${n}`, seed: 100 + n, fault: fault(), ...(mqtt ? { mqttUrl: mqtt(lab) } : {}) });
    reports.push(report);
    expect(report.mismatches.slice(0, 10)).toEqual([]);
  };

  it("an actor host SIGKILLed", round(1, () => faults.kill("host", 0), (l) => l.mqttUrls[1]!));
  it("a broker SIGKILLed", round(2, () => faults.kill("broker", 1), (l) => l.mqttUrls[1]!));
  it("a nats-server SIGKILLed", round(3, () => faults.kill("nats", 2), (l) => l.mqttUrls[0]!));
});
