import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { connectNats } from "../../../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../../../infra/provision.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";
import { startHostProcess, type HostProcess } from "./fixtures/host-process.ts";
import { counterId, expectedTotals, publishRounds, readCounter, readSink } from "./fixtures/counter-traffic.ts";

const PARTITIONS = 8;
const COUNTERS = 60;
const ROUNDS = 40;
const DB = "rt_crash";

describe("crash: a SIGKILLed host process is replaced and nothing is lost or applied twice", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let influx: InfluxDB;
  const hosts: HostProcess[] = [];

  // fresh services for each case: the same traffic is published again
  beforeEach(async () => {
    s = await startTestServices();
    nc = await connectNats(s.natsUrl, "crash-test");
    await provisionNats(nc, { leaseTtlMs: 2000 });
    influx = influxClient(s.influxUrl, DB);
    await provisionInflux(influx, { influxDb: DB, rawRetention: "INF", rollupRetention: "INF" });
  });
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.kill("SIGKILL")));
    await nc?.close();
    await s?.stop();
  });

  // snapshotMs 0: every changed actor is snapshotted at every checkpoint; 1500: snapshots lag
  // the checkpoints, which then stay below the first unsaved message of each actor
  it.each([0, 1500])("exact totals after kill -9 mid-stream and a restart (snapshotMs %i)", async (snapshotMs) => {
    const common = { natsUrl: s.natsUrl, influxUrl: s.influxUrl, influxDb: DB, dataDir: s.dataDir, partitions: PARTITIONS, checkpointMs: 300, snapshotMs };
    const first = await startHostProcess({ ...common, hostId: `crash-${snapshotMs}-1` });
    hosts.push(first);

    let killed = false;
    let replacement: Promise<HostProcess> | undefined;
    await publishRounds(nc, {
      counters: COUNTERS, from: 1, to: ROUNDS, partitions: PARTITIONS,
      async onRound(k) {
        // mid-stream, once the first host has checkpointed some work: kill -9, then start another
        if (k === ROUNDS / 2 && !killed) {
          await eventually("the first host checkpointed some work", async () => ((await readSink(nc))?.state.n ?? 0) > 0, 20_000, 50);
          killed = true;
          expect(await first.kill("SIGKILL")).toBe("SIGKILL");
          replacement = startHostProcess({ ...common, hostId: `crash-${snapshotMs}-2` });
        }
      },
    });
    expect(killed).toBe(true);
    const second = await replacement!;
    hosts.push(second);

    const want = expectedTotals(COUNTERS, ROUNDS);
    await eventually("every message reached the sink", async () => ((await readSink(nc))?.state.n ?? 0) >= want.messages, 40_000, 100);
    expect(await second.kill("SIGTERM")).toBe(0);

    const sink = await readSink(nc);
    expect(sink?.state).toEqual({ sum: want.total, n: want.messages });
    for (let i = 0; i < COUNTERS; i++) {
      expect((await readCounter(nc, i))?.state, counterId(i)).toEqual({ sum: want.perCounter[i], n: ROUNDS, lastK: ROUNDS, outOfOrder: 0 });
    }
    const rows = await influx.query<{ count: number }>(`SELECT count("value") AS count FROM "counter"`);
    expect(rows[0]?.count).toBe(want.messages);
  });
});
