import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { connectNats } from "../../../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../../../infra/provision.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";
import { startHostProcess, type HostProcess } from "./fixtures/host-process.ts";
import { counterId, expectedTotals, leaseHolders, publishRounds, readCounter, readSink } from "./fixtures/counter-traffic.ts";

const PARTITIONS = 8;
const COUNTERS = 60;
const ROUNDS = 30;
const LEASE_TTL_MS = 2000;
const DB = "rt_takeover";

describe("takeover: two host processes share the partitions; the survivor of a kill -9 takes them all", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let influx: InfluxDB;
  const hosts: HostProcess[] = [];

  beforeAll(async () => {
    s = await startTestServices();
    nc = await connectNats(s.natsUrl, "takeover-test");
    await provisionNats(nc, { leaseTtlMs: LEASE_TTL_MS });
    influx = influxClient(s.influxUrl, DB);
    await provisionInflux(influx, { influxDb: DB, rawRetention: "INF", rollupRetention: "INF" });
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.kill("SIGKILL")));
    await nc?.close();
    await s?.stop();
  });

  it("splits fairly, takes over within a few lease TTLs, totals stay exact", async () => {
    const common = { natsUrl: s.natsUrl, influxUrl: s.influxUrl, influxDb: DB, dataDir: s.dataDir, partitions: PARTITIONS, leaseTtlMs: LEASE_TTL_MS, checkpointMs: 300 };
    const [a, b] = await Promise.all([
      startHostProcess({ ...common, hostId: "host-a" }),
      startHostProcess({ ...common, hostId: "host-b" }),
    ]);
    hosts.push(a, b);

    // fair share: 4 + 4
    await eventually("the two hosts hold half the partitions each", async () => {
      const holders = await leaseHolders(nc, PARTITIONS);
      return holders.filter((h) => h === "host-a").length === PARTITIONS / 2 && holders.filter((h) => h === "host-b").length === PARTITIONS / 2;
    }, 20_000, 100);

    await publishRounds(nc, {
      counters: COUNTERS, from: 1, to: ROUNDS, partitions: PARTITIONS,
      async onRound(k) {
        if (k === ROUNDS / 2) {
          await eventually("both hosts checkpointed work", async () => ((await readSink(nc))?.state.n ?? 0) > 0, 20_000, 50);
          expect(await a.kill("SIGKILL")).toBe("SIGKILL");
        }
      },
    });

    // the survivor takes every partition once host-a's leases have expired (a few TTLs at most)
    await eventually("host-b holds every partition", async () =>
      (await leaseHolders(nc, PARTITIONS)).every((h) => h === "host-b"), 5 * LEASE_TTL_MS, 100);

    const want = expectedTotals(COUNTERS, ROUNDS);
    await eventually("every message reached the sink", async () => ((await readSink(nc))?.state.n ?? 0) >= want.messages, 40_000, 100);

    // the host process reports itself on /healthz and /metrics
    const health = await (await fetch(`http://127.0.0.1:${b.opsPort}/healthz`)).json() as { ok: boolean; partitions: number[]; hostId: string };
    expect(health).toMatchObject({ ok: true, hostId: "host-b", partitions: [0, 1, 2, 3, 4, 5, 6, 7] });
    const metrics = await (await fetch(`http://127.0.0.1:${b.opsPort}/metrics`)).text();
    expect(metrics).toMatch(/^footfall_actor_partitions_owned\{[^}]*\} 8$/m);
    expect(metrics).toMatch(/^footfall_actor_messages_total\{[^}]*kind="counter"[^}]*\} \d+$/m);
    expect(metrics).toMatch(/^footfall_actor_processing_seconds_count\{[^}]*kind="sink"[^}]*\} \d+$/m);
    expect(metrics).toMatch(/^footfall_actor_mailbox_depth\{[^}]*partition="0"[^}]*\} \d+$/m);
    expect(metrics).toMatch(/^footfall_actors_active\{[^}]*kind="counter"[^}]*\} \d+$/m);
    expect(await b.kill("SIGTERM")).toBe(0);
    // a clean stop hands every lease back
    expect((await leaseHolders(nc, PARTITIONS)).every((h) => h === undefined)).toBe(true);

    expect((await readSink(nc))?.state).toEqual({ sum: want.total, n: want.messages });
    for (let i = 0; i < COUNTERS; i++) {
      expect((await readCounter(nc, i))?.state, counterId(i)).toEqual({ sum: want.perCounter[i], n: ROUNDS, lastK: ROUNDS, outOfOrder: 0 });
    }
    const rows = await influx.query<{ count: number }>(`SELECT count("value") AS count FROM "counter"`);
    expect(rows[0]?.count).toBe(want.messages);
  });
});
