import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { demoMall, toTopologyDoc, type BuildingPlan } from "../../firmware-sim/building.ts";
import { runBuildingSim } from "../../firmware-sim/building-run.ts";
import type { TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";

/**
 * The acceptance scenario of the occupancy slice: a simulated building (≥ 5 spaces, ≥ 8
 * doorways), 200 walkers for 10 simulated minutes, 5 % duplicate sends, bounded clock skew,
 * one DPU offline for 3 minutes and then replaying in bulk out of order. `midRun` is called
 * once half the crossings have been sent (kill a host, kill nats-server, ...).
 * Afterwards every space's count (and the site total) at 20 sampled instants must equal ground
 * truth exactly.
 */
export async function runOccupancyScenario(stack: TestStack, opts: { site: string; seed: number; midRun?: () => Promise<void>; mqttUrl?: string; ackTimeoutMs?: number }) {
  const plan: BuildingPlan = demoMall(opts.site);
  expect(plan.spaces.length).toBeGreaterThanOrEqual(5);
  expect(plan.doorways.length).toBeGreaterThanOrEqual(8);
  const secrets = Object.fromEntries(plan.dpus.map((d) => [d.id, `secret-${opts.site}-${d.id}`]));
  const put = await stack.admin("PUT", `/api/v1/sites/${opts.site}/topology`, toTopologyDoc(plan, secrets));
  expect(put.status, await put.clone().text()).toBe(200);

  const outageDevice = plan.dpus[0]!.id;
  const dataDir = path.join(stack.services.dataDir, `sim-${opts.site}`);
  fs.mkdirSync(dataDir, { recursive: true });
  let midRunDone: Promise<void> | undefined;
  const result = await runBuildingSim({
    mqttUrl: opts.mqttUrl ?? stack.mqttUrl,
    ...(opts.ackTimeoutMs !== undefined ? { ackTimeoutMs: opts.ackTimeoutMs } : {}),
    plan,
    secrets,
    walkers: 200,
    durationMs: 10 * 60_000,
    // recent, so the raw retention policy (30 days) keeps every point
    startTs: Date.now() - 60 * 60_000,
    seed: opts.seed,
    duplicateRate: 0.05,
    maxSkewMs: 200,
    outage: { device: outageDevice, fromMs: 3 * 60_000, toMs: 6 * 60_000 },
    dataDir,
    onProgress: (done, total) => {
      if (opts.midRun && !midRunDone && done >= total / 2) midRunDone = opts.midRun();
    },
  });
  await midRunDone;
  expect(result.crossings).toBeGreaterThan(500);
  expect(result.duplicatesSent).toBeGreaterThan(0);

  const samples = result.truth.sampleTimes(20, { avoidWithinMs: 1000 });
  expect(samples).toHaveLength(20);
  let mismatches: string[] = [];
  await eventually("every space's count at 20 sampled instants equals ground truth", async () => {
    mismatches = [];
    for (const t of samples) {
      for (const space of plan.spaces) {
        const r = await stack.fetch(`/api/v1/sites/${opts.site}/spaces/${space.id}/count?at=${new Date(t).toISOString()}`);
        const body = (await r.json()) as { count: number };
        const want = result.truth.countAt(space.id, t);
        if (body.count !== want) mismatches.push(`${space.id}@${new Date(t).toISOString()}: got ${body.count}, truth ${want}`);
      }
      const r = await stack.fetch(`/api/v1/sites/${opts.site}/count?at=${new Date(t).toISOString()}`);
      const body = (await r.json()) as { count: number };
      const want = result.truth.siteCountAt(t);
      if (body.count !== want) mismatches.push(`site@${new Date(t).toISOString()}: got ${body.count}, truth ${want}`);
    }
    return mismatches.length === 0;
  }, 90_000, 1000).catch((e) => { throw new Error(`${(e as Error).message}\n${mismatches.slice(0, 20).join("\n")}`); });
  // the people simulated actually move: some sampled instant has someone inside
  expect(samples.some((t) => result.truth.siteCountAt(t) > 0)).toBe(true);
  return result;
}
