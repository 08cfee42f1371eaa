import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { AckAfterStore, type StoreJob } from "../../broker/ack-after-store.ts";
import { createBrokerMetrics } from "../../broker/broker-metrics.ts";
import { captureLog, metricValue } from "./broker-fixture.ts";

/** A store the test settles by hand, and what done was called with. */
function harness() {
  const registry = new Registry();
  const metrics = createBrokerMetrics(registry, () => 0);
  const logs = captureLog();
  const acks = new AckAfterStore(metrics, logs.log);
  const calls: Array<Error | null | undefined> = [];
  const start = (ack: StoreJob<number>["ack"], qos: number) => {
    let settle!: { resolve(n: number): void; reject(e: Error): void };
    const counted: number[] = [];
    acks.run({
      type: "thing", ack, device: "dev-1", clientId: "dev-1-abc", qos, fields: { seq: 7 },
      store: () => new Promise<number>((resolve, reject) => { settle = { resolve, reject }; }),
      stored: (n) => counted.push(n),
    }, (err) => calls.push(err));
    return { settle, counted };
  };
  return { registry, logs, acks, calls, start };
}

describe("AckAfterStore", () => {
  it("after-store: done only once stored, then counted as accepted", async () => {
    const h = harness();
    const job = h.start("after-store", 1);
    expect(h.calls).toEqual([]);
    job.settle.resolve(3);
    await h.acks.settled();
    expect(h.calls).toEqual([null]);
    expect(job.counted).toEqual([3]);
    expect(await metricValue(h.registry, "footfall_broker_publishes_accepted_total", { type: "thing" })).toBe(1);
    const latency = (await h.registry.getSingleMetric("footfall_broker_bridge_latency_seconds")!.get()).values;
    expect(latency.find((v) => "metricName" in v && v.metricName === "footfall_broker_bridge_latency_seconds_count")?.value).toBe(1);
  });

  it("after-store, not stored: QoS 1 fails (no PUBACK), QoS 0 goes on; each counted and logged once with the Error", async () => {
    const h = harness();
    const q1 = h.start("after-store", 1);
    const q0 = h.start("after-store", 0);
    q1.settle.reject(new Error("no responders"));
    q0.settle.reject(new Error("timeout"));
    await h.acks.settled();
    expect(h.calls).toHaveLength(2);
    expect(h.calls[0]).toBeInstanceOf(Error);
    expect(h.calls[0]!.message).toBe("not stored: no responders");
    expect(h.calls[1]).toBeNull();
    expect(await metricValue(h.registry, "footfall_broker_bridge_failures_total")).toBe(2);
    expect(await metricValue(h.registry, "footfall_broker_publishes_accepted_total")).toBe(0);
    const warnings = h.logs.lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ device: "dev-1", clientId: "dev-1-abc", type: "thing", qos: 1, seq: 7, err: { message: "no responders" } });
    expect(warnings[1]).toMatchObject({ qos: 0, err: { message: "timeout" } });
  });

  it("at-once: done and counted on arrival; a failed store is counted and logged, never failing the publish", async () => {
    const h = harness();
    const job = h.start("at-once", 1);
    expect(h.calls).toEqual([null]);
    expect(await metricValue(h.registry, "footfall_broker_publishes_accepted_total", { type: "thing" })).toBe(1);
    job.settle.reject(new Error("no responders"));
    await h.acks.settled();
    expect(h.calls).toEqual([null]);
    expect(await metricValue(h.registry, "footfall_broker_bridge_failures_total")).toBe(1);
    expect(h.logs.lines.filter((l) => l.level === 40)).toMatchObject([{ device: "dev-1", err: { message: "no responders" } }]);
  });
});
