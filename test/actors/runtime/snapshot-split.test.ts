import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { Registry } from "prom-client";
import { z } from "zod";
import { actorSubject, KV_SNAPSHOTS } from "../../../contracts/nats-layout.ts";
import { createLogger } from "../../../infra/log.ts";
import { connectNats } from "../../../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../../../infra/provision.ts";
import { startActorHost } from "../../../actors/runtime/actor-host.ts";
import { partKey, SplitHead } from "../../../actors/runtime/snapshot-key.ts";
import { SnapshotStore } from "../../../actors/runtime/snapshot-store.ts";
import type { ActorBehavior, BehaviorRegistry } from "../../../actors/runtime/types.ts";
import { FencedError } from "../../../actors/runtime/versioned-key.ts";
import { metric } from "./fixtures/metric.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";

/**
 * Actor snapshots larger than one NATS message: split into parts under a head written by
 * compare-and-set (actors/runtime/snapshot-key.ts).
 */
const log = createLogger("test", process.env.RT_LOG ?? "fatal");
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const snapshotOf = (n: number, bytes: number) => encoder.encode(JSON.stringify({ seq: n, state: { n, pad: "y".repeat(bytes) } }));

describe("split actor snapshots (real nats-server)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let kv: KV;

  beforeAll(async () => {
    s = await startTestServices();
    nc = await connectNats(s.natsUrl, "split-test");
    await provisionNats(nc, { leaseTtlMs: 1500 });
    kv = await new Kvm(nc).open(KV_SNAPSHOTS);
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  const head = async (key: string) => {
    const e = await kv.get(key);
    return e?.operation === "PUT" ? JSON.parse(decoder.decode(e.value)) as unknown : undefined;
  };
  const present = async (key: string) => (await kv.get(key))?.operation === "PUT";

  it("splits a large snapshot into parts, reads it back whole, and deletes parts no head names", async () => {
    const store = new SnapshotStore(kv, log, 4096);
    const first = await store.loadActor("ledger", "split.a");
    expect(first).toMatchObject({ seq: 0, state: undefined });

    await first.key.write(snapshotOf(1, 10_000)); // about 10 kB: 3 parts
    const h1 = SplitHead.parse(await head("a.ledger.split.a")).split;
    expect(h1.count).toBe(3);
    const again = await store.loadActor("ledger", "split.a");
    expect(again.seq).toBe(1);
    expect(again.state).toEqual({ n: 1, pad: "y".repeat(10_000) });

    // the next snapshot goes to another generation; the one the head named before is deleted
    await again.key.write(snapshotOf(2, 6_000));
    const h2 = SplitHead.parse(await head("a.ledger.split.a")).split;
    expect(h2.gen).not.toBe(h1.gen);
    expect(h2.count).toBe(2);
    for (let i = 0; i < 3; i++) expect(await present(partKey("a.ledger.split.a", h1.gen, i))).toBe(false);
    expect((await store.loadActor("ledger", "split.a")).state).toEqual({ n: 2, pad: "y".repeat(6_000) });

    // and the next to this writer's other generation (its two take turns), never the one the head names
    await again.key.write(snapshotOf(3, 9_000));
    const h3 = SplitHead.parse(await head("a.ledger.split.a")).split;
    expect(h3.gen).not.toBe(h2.gen);
    expect(h3.gen.slice(0, 6)).toBe(h2.gen.slice(0, 6));
    for (let i = 0; i < 2; i++) expect(await present(partKey("a.ledger.split.a", h2.gen, i))).toBe(false);
    expect((await store.loadActor("ledger", "split.a")).state).toEqual({ n: 3, pad: "y".repeat(9_000) });

    // small again: the head holds it, the parts are gone
    await again.key.write(snapshotOf(4, 100));
    expect(await head("a.ledger.split.a")).toEqual({ seq: 4, state: { n: 4, pad: "y".repeat(100) } });
    for (let i = 0; i < 3; i++) expect(await present(partKey("a.ledger.split.a", h3.gen, i))).toBe(false);
  });

  it("stays fenced: a rival writer of the same head is refused and its parts do not touch the snapshot", async () => {
    const store = new SnapshotStore(kv, log, 4096);
    const owner = await store.loadActor("ledger", "split.b");
    const rival = await store.loadActor("ledger", "split.b");
    await owner.key.write(snapshotOf(1, 9_000));
    await expect(rival.key.write(snapshotOf(99, 9_000))).rejects.toBeInstanceOf(FencedError);
    const loaded = await store.loadActor("ledger", "split.b");
    expect(loaded.seq).toBe(1);
    expect(loaded.state).toEqual({ n: 1, pad: "y".repeat(9_000) });
  });

  it("a split snapshot with a part missing is reported corrupt and ignored", async () => {
    const store = new SnapshotStore(kv, log, 4096);
    const a = await store.loadActor("ledger", "split.c");
    await a.key.write(snapshotOf(5, 9_000));
    const h = SplitHead.parse(await head("a.ledger.split.c")).split;
    await kv.purge(partKey("a.ledger.split.c", h.gen, 1));
    expect(await store.loadActor("ledger", "split.c")).toMatchObject({ seq: 0, state: undefined });
  });

  it("an actor whose state outgrows NATS's largest message (8 MB here) is snapshotted and restored by the host", async () => {
    const influx: InfluxDB = influxClient(s.influxUrl, "rt_split");
    await provisionInflux(influx, { influxDb: "rt_split", rawRetention: "INF", rollupRetention: "INF" });
    const PAD = 9 * 1024 * 1024;
    interface BigState { n: number; pad: string }
    const big: ActorBehavior<BigState> = {
      kind: "big",
      initialState: () => ({ n: 0, pad: "z".repeat(PAD) }),
      handle(state, body) { state.n += z.strictObject({ add: z.number().int() }).parse(body).add; },
    };
    const behaviors = (): BehaviorRegistry => new Map<string, ActorBehavior<any>>([[big.kind, big]]);
    const start = (hostId: string, registry: Registry) => startActorHost({
      nc, influx, behaviors: behaviors(), partitions: 1, leaseTtlMs: 1500,
      flushMs: 20, checkpointMs: 100, idleMs: 600_000, hostId, registry, log,
    });
    const js = jetstream(nc);
    const registry = new Registry();
    const host = await start("split-1", registry);
    try {
      await eventually("the host owns the partition", () => host.ownedPartitions().length === 1, 10_000);
      await js.publish(actorSubject("big", "one", 1), JSON.stringify({ add: 7 }), { msgID: "big-1" });
      await eventually("the snapshot is written", async () => (await kv.get("a.big.one"))?.operation === "PUT", 20_000, 50);
    } finally {
      await host.stop();
    }
    const h = SplitHead.parse(await head("a.big.one")).split;
    expect(h.bytes).toBeGreaterThan(PAD);
    expect(await metric(registry, "footfall_actor_checkpoints_total", { outcome: "failed" })).toBe(0);

    // a second host restores the state from the parts and goes on from it
    const registry2 = new Registry();
    const next = await start("split-2", registry2);
    try {
      await eventually("the next host owns the partition", () => next.ownedPartitions().length === 1, 10_000);
      await js.publish(actorSubject("big", "one", 1), JSON.stringify({ add: 5 }), { msgID: "big-2" });
      await eventually("the message is handled", async () => await metric(registry2, "footfall_actor_messages_total") >= 1, 20_000, 50);
    } finally {
      await next.stop();
    }
    const loaded = await new SnapshotStore(kv, log).loadActor("big", "one");
    expect((loaded.state as BigState).n).toBe(12);
    expect((loaded.state as BigState).pad.length).toBe(PAD);
  }, 60_000);
});
