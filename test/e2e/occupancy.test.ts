import { afterEach, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { runOccupancyScenario } from "./occupancy-scenario.ts";

describe("occupancy end to end: DPUs → aedes → JetStream → actors → InfluxDB → API (real services)", { timeout: 240_000 }, () => {
  let stack: TestStack | undefined;
  afterEach(async () => { await stack?.stop(); stack = undefined; });

  it("counts equal ground truth exactly with duplicates, skew and an outage replayed out of order", async () => {
    stack = await startTestStack({ hosts: 1 });
    await runOccupancyScenario(stack, { site: "mall-a", seed: 11 });
  });

  it("stays exact when the actor host is SIGKILLed mid-run and restarted", async () => {
    stack = await startTestStack({ hosts: 1 });
    const s = stack;
    await runOccupancyScenario(s, {
      site: "mall-b", seed: 12,
      midRun: async () => { await s.hosts[0]!.kill(); await s.startHost(); },
    });
  });

  it("stays exact with two hosts when one is SIGKILLed and the other takes over", async () => {
    stack = await startTestStack({ hosts: 2 });
    const s = stack;
    await runOccupancyScenario(s, { site: "mall-c", seed: 13, midRun: () => s.hosts[0]!.kill() });
    const health = (await (await fetch(`http://127.0.0.1:${s.hosts[1]!.opsPort}/healthz`)).json()) as { partitions: unknown };
    expect(health.partitions).toHaveLength(s.cfg.partitions);
  });

  it("stays exact when nats-server is SIGKILLed mid-run and restarted on the same store", async () => {
    stack = await startTestStack({ hosts: 1 });
    const s = stack;
    await runOccupancyScenario(s, { site: "mall-d", seed: 14, midRun: () => s.services.restartNats({ downMs: 1000 }) });
  });
});
