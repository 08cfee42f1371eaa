import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { Registry } from "prom-client";
import { z } from "zod";
import { encodeActorBatch } from "../../../contracts/actor-batch.ts";
import { actorSubject, KV_SNAPSHOTS } from "../../../contracts/nats-layout.ts";
import { createLogger } from "../../../infra/log.ts";
import { startActorHost } from "../../../actors/runtime/actor-host.ts";
import type { ActorBehavior, BehaviorRegistry } from "../../../actors/runtime/types.ts";
import { metric } from "./fixtures/metric.ts";
import { startRuntimeServices, type RuntimeServices } from "./fixtures/runtime-services.ts";
import { readSnapshot } from "./fixtures/counter-traffic.ts";
import { eventually } from "../../support/retry.ts";

/**
 * A batch message (contracts/actor-batch.ts) is its items, handed to the actor in order as one
 * message: each item counted, a failing item skipped alone, and no snapshot between two items,
 * even when items take longer than the checkpoint interval.
 */
const PARTITIONS = 1;
const DB = "rt_batch";
const SLOW_MS = 120; // longer than the checkpoint interval below
const log = createLogger("test", process.env.RT_LOG ?? "fatal");

interface TapeState { values: number[] }
const tape: ActorBehavior<TapeState> = {
  kind: "tape",
  initialState: () => ({ values: [] }),
  async handle(state, body) {
    const { value } = z.strictObject({ value: z.number().int() }).parse(body);
    if (value < 0) throw new Error(`refusing ${value}`);
    if (value % 3 === 0) await new Promise((r) => setTimeout(r, SLOW_MS));
    state.values.push(value);
  },
};
const behaviors = (): BehaviorRegistry => new Map<string, ActorBehavior<any>>([[tape.kind, tape]]);

describe("batch messages in an actor's mailbox (real nats-server)", () => {
  let rt: RuntimeServices;
  let nc: NatsConnection;
  let influx: InfluxDB;

  beforeAll(async () => {
    rt = await startRuntimeServices("batch-test", { db: DB, leaseTtlMs: 1500 });
    ({ nc, influx } = rt);
  });
  afterAll(async () => { await rt?.stop(); });

  it("hands a batch's items to the actor in order as one message; a failing item is skipped alone", async () => {
    const registry = new Registry();
    const host = await startActorHost({
      nc, influx, behaviors: behaviors(), partitions: PARTITIONS, leaseTtlMs: 1500,
      flushMs: 20, checkpointMs: 30, idleMs: 600_000, snapshotMs: 0, snapshotBytesPerMessage: 0,
      hostId: "batch-host", registry, log,
    });
    // every snapshot written, as the values it holds
    const kv = await new Kvm(nc).open(KV_SNAPSHOTS);
    const written: number[][] = [];
    const watch = await kv.watch({ key: "a.tape.t1" });
    void (async () => {
      for await (const e of watch) {
        if (e.operation === "PUT") written.push((JSON.parse(new TextDecoder().decode(e.value)) as { state: TapeState }).state.values);
      }
    })();
    let lastSeq = 0;
    try {
      await eventually("the host owns the partition", () => host.ownedPartitions().length === PARTITIONS, 10_000);
      const js = jetstream(nc);
      const subject = actorSubject("tape", "t1", PARTITIONS);
      const item = (value: number) => JSON.stringify({ value });
      await js.publish(subject, item(1));
      await eventually("1 handled", async () => await metric(registry, "footfall_actor_messages_total", { kind: "tape" }) >= 1, 10_000, 5);
      await eventually("1 snapshotted", () => written.length > 0, 10_000, 5);
      await js.publish(subject, encodeActorBatch([2, 3, -1, 4, 5, 6].map(item)));
      lastSeq = (await js.publish(subject, item(7))).seq;
      await eventually("7 handled", async () => await metric(registry, "footfall_actor_messages_total", { kind: "tape" }) >= 7, 10_000, 5);
      expect(await metric(registry, "footfall_actor_errors_total", { kind: "tape" })).toBe(1);
    } finally {
      await host.stop(); // a clean stop snapshots every changed actor
      watch.stop();
    }
    const last = await readSnapshot<TapeState>(nc, "tape", "t1");
    expect(last).toEqual({ seq: lastSeq, state: { values: [1, 2, 3, 4, 5, 6, 7] } });
    // the items took 240 ms and checkpoints ran every 30 ms, yet no snapshot holds part of the batch
    const parts = new Set(written.map((v) => v.join(",")));
    expect([...parts].filter((v) => !["1", "1,2,3,4,5,6", "1,2,3,4,5,6,7"].includes(v))).toEqual([]);
  });
});
