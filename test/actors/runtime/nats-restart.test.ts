import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { Registry } from "prom-client";
import { createLogger } from "../../../infra/log.ts";
import { connectNats } from "../../../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../../../infra/provision.ts";
import { startActorHost, type ActorHost } from "../../../actors/runtime/actor-host.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually, retry } from "../../support/retry.ts";
import { counterBehaviors } from "./fixtures/counter-behavior.ts";
import { counterId, expectedTotals, publishRounds, readCounter, readSink } from "./fixtures/counter-traffic.ts";

const PARTITIONS = 8;
const COUNTERS = 60;
const ROUNDS = 30;
const DB = "rt_nats_restart";
const log = createLogger("test", process.env.RT_LOG ?? "error");

describe("nats-server killed and restarted on the same store mid-stream", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let hostNc: NatsConnection;
  let influx: InfluxDB;
  let host: ActorHost | undefined;

  beforeAll(async () => {
    s = await startTestServices();
    nc = await connectNats(s.natsUrl, "restart-test");
    hostNc = await connectNats(s.natsUrl, "restart-test-host");
    await provisionNats(nc, { leaseTtlMs: 2000 });
    influx = influxClient(s.influxUrl, DB);
    await provisionInflux(influx, { influxDb: DB, rawRetention: "INF", rollupRetention: "INF" });
  });
  afterAll(async () => {
    await host?.stop();
    await hostNc?.close();
    await nc?.close();
    await s?.stop();
  });

  it("the host survives, resumes, and the totals are exact", async () => {
    host = await startActorHost({
      nc: hostNc, influx, behaviors: counterBehaviors(), partitions: PARTITIONS, leaseTtlMs: 2000,
      flushMs: 50, checkpointMs: 200, idleMs: 60_000, hostId: "survivor", registry: new Registry(), log,
    });
    await eventually("the host owns every partition", () => host!.ownedPartitions().length === PARTITIONS, 10_000);

    let restarted = false;
    await publishRounds(nc, {
      counters: COUNTERS, from: 1, to: ROUNDS, partitions: PARTITIONS,
      async onRound(k) {
        if (k === ROUNDS / 2) {
          await eventually("some work checkpointed", async () => ((await readSink(nc))?.state.n ?? 0) > 0, 20_000, 50);
          await s.restartNats({ downMs: 1000 });
          restarted = true;
        }
      },
    });
    expect(restarted).toBe(true);

    const want = expectedTotals(COUNTERS, ROUNDS);
    await eventually("every message reached the sink", async () =>
      ((await retry(() => readSink(nc), 10_000))?.state.n ?? 0) >= want.messages, 40_000, 200);
    expect(host.health()).toMatchObject({ ok: true, natsConnected: true });
    await eventually("the host owns every partition again", () => host!.ownedPartitions().length === PARTITIONS, 10_000);
    await host.stop();
    host = undefined;

    expect((await readSink(nc))?.state).toEqual({ sum: want.total, n: want.messages });
    for (let i = 0; i < COUNTERS; i++) {
      expect((await readCounter(nc, i))?.state, counterId(i)).toEqual({ sum: want.perCounter[i], n: ROUNDS, lastK: ROUNDS, outOfOrder: 0 });
    }
    const rows = await influx.query<{ count: number }>(`SELECT count("value") AS count FROM "counter"`);
    expect(rows[0]?.count).toBe(want.messages);
  });
});
