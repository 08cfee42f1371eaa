import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import { Registry } from "prom-client";
import { KV_LEASES } from "../../../contracts/nats-layout.ts";
import { createLogger } from "../../../infra/log.ts";
import { startActorHost, type ActorHost } from "../../../actors/runtime/actor-host.ts";
import { counterBehaviors } from "./fixtures/counter-behavior.ts";
import { metric } from "./fixtures/metric.ts";
import { startRuntimeServices, type RuntimeServices } from "./fixtures/runtime-services.ts";
import { eventually } from "../../support/retry.ts";

const TTL = 6000;
const PARTITIONS = 4;
const log = createLogger("test", process.env.RT_LOG ?? "fatal");
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A lease is renewed every third of its TTL, each renewal given as long to answer, and is valid
 * for 90 % of the TTL. A renewal that got no answer in time must be tried again at once: waiting
 * for the next period would let one slow answer lapse the lease and drop the partition (a replay
 * from its checkpoint, on a host that was merely slow).
 *
 * Here nats-server is stopped (SIGSTOP) for 2.6 s, starting 150 ms before a renewal is due: that
 * renewal times out (2 s), its retry is answered when the server resumes, 3.5 s after the last
 * renewal landed, inside the 5.4 s the lease allows. Waiting for the next period instead would
 * renew 4.15 s after the stop began, too late.
 */
describe("lease renewal (in process, real nats-server)", () => {
  let rt: RuntimeServices;
  let host: ActorHost | undefined;
  beforeAll(async () => {
    rt = await startRuntimeServices("lease-renewal-test", { db: "rt_lease_renewal", leaseTtlMs: TTL });
  });
  afterAll(async () => {
    await host?.stop();
    await rt?.stop();
  });

  it("keeps every partition through NATS pauses longer than a renewal's time-out", async () => {
    const registry = new Registry();
    host = await startActorHost({
      nc: rt.nc, influx: rt.influx, behaviors: counterBehaviors(), partitions: PARTITIONS, leaseTtlMs: TTL,
      flushMs: 50, checkpointMs: 500, idleMs: 60_000, hostId: "host-slow-nats", registry, log,
    });
    await eventually("the host owns every partition", () => host!.ownedPartitions().length === PARTITIONS, 20_000);
    // the host's renewals of partition 0's lease, as a watch sees them land
    const renewed: number[] = [];
    const watch = await (await new Kvm(rt.nc).open(KV_LEASES)).watch({ key: "p0", include: KvWatchInclude.UpdatesOnly });
    void (async () => { for await (const _ of watch) renewed.push(performance.now()); })();
    const pid = rt.services.nats!.proc.child.pid!;
    try {
      for (let round = 0; round < 3; round++) {
        // stop the server just before the next renewal (one period after the last one landed)
        const seen = renewed.length;
        await eventually("a renewal lands", () => renewed.length > seen, 10_000, 20);
        await pause(renewed[renewed.length - 1]! + TTL / 3 - 150 - performance.now());
        process.kill(pid, "SIGSTOP");
        try { await pause(2600); } finally { process.kill(pid, "SIGCONT"); }
        await pause(3000);
        expect(await metric(registry, "footfall_actor_partitions_dropped_total"), `partitions dropped after round ${round + 1}`).toBe(0);
      }
    } finally {
      watch.stop();
    }
    expect(host.ownedPartitions()).toEqual([0, 1, 2, 3]);
    // the pauses did make renewals time out (2 s): the test exercised what it is about
    const renewals = (await registry.getSingleMetric("footfall_actor_lease_renewal_seconds")!.get()).values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>;
    const total = renewals.find((v) => v.metricName?.endsWith("_count"))!.value;
    const underTwo = renewals.find((v) => v.metricName?.endsWith("_bucket") && v.labels.le === 2)!.value;
    expect(total - underTwo).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
