import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { Registry } from "prom-client";
import { Kvm } from "@nats-io/kv";
import { actorSubject, KV_LEASES, partitionOf } from "../../../contracts/nats-layout.ts";
import { createLogger } from "../../../infra/log.ts";
import { startActorHost, type ActorHost } from "../../../actors/runtime/actor-host.ts";
import { metric } from "./fixtures/metric.ts";
import { startRuntimeServices, type RuntimeServices } from "./fixtures/runtime-services.ts";
import { eventually } from "../../support/retry.ts";
import { counterBehaviors } from "./fixtures/counter-behavior.ts";
import { counterId, expectedTotals, publishRounds, readCounter, readSink } from "./fixtures/counter-traffic.ts";

const PARTITIONS = 8;
const COUNTERS = 150;
const DB = "rt_host";
const log = createLogger("test", process.env.RT_LOG ?? "fatal");

describe("actor host (in process, real nats-server and influxd)", () => {
  let rt: RuntimeServices;
  let nc: NatsConnection;
  let influx: InfluxDB;

  beforeAll(async () => {
    rt = await startRuntimeServices("runtime-test", { db: DB, leaseTtlMs: 2000 });
    ({ nc, influx } = rt);
  });
  afterAll(async () => { await rt?.stop(); });

  const start = (registry: Registry, hostId: string) => startActorHost({
    nc, influx, behaviors: counterBehaviors(), partitions: PARTITIONS, leaseTtlMs: 2000,
    flushMs: 50, checkpointMs: 150, idleMs: 300, hostId, registry, log,
  });

  it("applies every message once and in order, passivates idle actors, survives a clean restart, skips bad input", async () => {
    const registry = new Registry();
    let host: ActorHost = await start(registry, "host-a");
    await eventually("host-a owns every partition", () => host.ownedPartitions().length === PARTITIONS, 10_000);

    // many actors over all partitions, 3 messages each
    let peakActive = 0;
    await publishRounds(nc, { counters: COUNTERS, from: 1, to: 3, partitions: PARTITIONS });
    await eventually("the sink got every forwarded value", async () => {
      peakActive = Math.max(peakActive, host.health().actors);
      return (await readSink(nc))?.state.n === COUNTERS * 3;
    }, 30_000, 50);
    expect(peakActive).toBeGreaterThan(COUNTERS / 2);

    // input the runtime must refuse without stopping: bad JSON, an unknown kind, a handler that throws
    const js = jetstream(nc);
    await js.publish(actorSubject("counter", "bad.json", PARTITIONS), "{not json", { msgID: "bad-1" });
    await js.publish(`act.${PARTITIONS - 1}.nosuchkind.x`, JSON.stringify({ value: 1 }), { msgID: "bad-2" });
    await js.publish(actorSubject("counter", "bad.schema", PARTITIONS), JSON.stringify({ value: "NaN" }), { msgID: "bad-3" });
    await eventually("the refused messages are counted", async () =>
      (await metric(registry, "footfall_actor_errors_total")) >= 3, 10_000);
    expect(await metric(registry, "footfall_actor_errors_total", { kind: "counter" })).toBe(2);
    expect(await metric(registry, "footfall_actor_errors_total", { kind: "unknown" })).toBe(1);

    // everything idle for longer than idleMs: passivated (state only in snapshots)
    await eventually("idle actors are passivated", () => host.health().actors <= 1, 10_000, 50);
    expect(await metric(registry, "footfall_actors_active", { kind: "counter" })).toBeLessThanOrEqual(1);

    // later messages apply to the reloaded state
    await publishRounds(nc, { counters: COUNTERS, from: 4, to: 5, partitions: PARTITIONS });
    await eventually("rounds 4-5 forwarded", async () => (await readSink(nc))?.state.n === COUNTERS * 5, 30_000, 50);
    expect(await metric(registry, "footfall_actor_messages_total", { kind: "counter" })).toBe(COUNTERS * 5);
    await host.stop();
    expect(host.ownedPartitions()).toEqual([]);

    // a clean restart (another host id) continues from the snapshots and checkpoints
    const registry2 = new Registry();
    host = await start(registry2, "host-b");
    await eventually("host-b owns every partition", () => host.ownedPartitions().length === PARTITIONS, 10_000);
    await publishRounds(nc, { counters: COUNTERS, from: 6, to: 6, partitions: PARTITIONS });
    await eventually("round 6 forwarded", async () => (await readSink(nc))?.state.n === COUNTERS * 6, 30_000, 50);
    await host.stop();
    // nothing from before the restart was handled again
    expect(await metric(registry2, "footfall_actor_messages_total", { kind: "counter" })).toBe(COUNTERS);

    const want = expectedTotals(COUNTERS, 6);
    const sink = await readSink(nc);
    expect(sink?.state).toEqual({ sum: want.total, n: want.messages });
    for (let i = 0; i < COUNTERS; i++) {
      const c = await readCounter(nc, i);
      expect(c?.state, counterId(i)).toEqual({ sum: want.perCounter[i], n: 6, lastK: 6, outOfOrder: 0 });
    }

    // one InfluxDB point per message (a series per counter, one timestamp per message)
    const rows = await influx.query<{ count: number }>(`SELECT count("value") AS count FROM "counter"`);
    expect(rows[0]?.count).toBe(COUNTERS * 6);
  });

  it("drops a partition at once when its lease is taken, and resumes it from the checkpoint once free", async () => {
    const host = await start(new Registry(), "host-c");
    try {
      await eventually("host-c owns every partition", () => host.ownedPartitions().length === PARTITIONS, 10_000);
      const leases = await new Kvm(nc).open(KV_LEASES);
      const stolen = partitionOf("sink", "total", PARTITIONS);
      await leases.put(`p${stolen}`, "thief");
      await eventually("the partition is dropped", () => !host.ownedPartitions().includes(stolen), 5_000, 20);
      // the thief never renews: its lease expires and host-c takes the partition back
      await publishRounds(nc, { counters: COUNTERS, from: 7, to: 8, partitions: PARTITIONS });
      await eventually("host-c owns the partition again", () => host.ownedPartitions().includes(stolen), 10_000, 50);
      await eventually("rounds 7-8 forwarded", async () => (await readSink(nc))?.state.n === COUNTERS * 8, 30_000, 50);
    } finally {
      await host.stop();
    }
    const want = expectedTotals(COUNTERS, 8);
    expect((await readSink(nc))?.state).toEqual({ sum: want.total, n: want.messages });
    for (let i = 0; i < COUNTERS; i++) {
      expect((await readCounter(nc, i))?.state, counterId(i)).toEqual({ sum: want.perCounter[i], n: 8, lastK: 8, outOfOrder: 0 });
    }
  });
});
