import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { InfluxDB } from "influx";
import { Registry } from "prom-client";
import { z } from "zod";
import { actorSubject, KV_LEASES, KV_SNAPSHOTS } from "../../../contracts/nats-layout.ts";
import { createLogger } from "../../../infra/log.ts";
import { startActorHost, type ActorHost } from "../../../actors/runtime/actor-host.ts";
import type { ActorBehavior, BehaviorRegistry } from "../../../actors/runtime/types.ts";
import { metric } from "./fixtures/metric.ts";
import { startRuntimeServices, type RuntimeServices } from "./fixtures/runtime-services.ts";
import { eventually } from "../../support/retry.ts";
import { readSnapshot } from "./fixtures/counter-traffic.ts";

/**
 * Snapshot pacing by size (snapshotBytesPerMessage): an actor with a large state is snapshotted
 * only after enough messages to pay for its size, and the partition checkpoint stays below its
 * unsaved messages, so a host that takes the partition over replays them.
 */
const PARTITIONS = 1;
const DB = "rt_pacing";
const PAD = 20_000;
const log = createLogger("test", process.env.RT_LOG ?? "fatal");

interface LedgerState { n: number; sum: number; pad: string }
const ledger: ActorBehavior<LedgerState> = {
  kind: "ledger",
  initialState: () => ({ n: 0, sum: 0, pad: "x".repeat(PAD) }),
  handle(state, body) {
    state.sum += z.strictObject({ value: z.number().int() }).parse(body).value;
    state.n++;
  },
};
const behaviors = (): BehaviorRegistry => new Map<string, ActorBehavior<any>>([[ledger.kind, ledger]]);

describe("snapshot pacing by size (real nats-server)", () => {
  let rt: RuntimeServices;
  let nc: NatsConnection;
  let influx: InfluxDB;

  beforeAll(async () => {
    rt = await startRuntimeServices("pacing-test", { db: DB, leaseTtlMs: 1500 });
    ({ nc, influx } = rt);
  });
  afterAll(async () => { await rt?.stop(); });

  const start = (registry: Registry, hostId: string, perMessage: number) => startActorHost({
    nc, influx, behaviors: behaviors(), partitions: PARTITIONS, leaseTtlMs: 1500,
    flushMs: 20, checkpointMs: 50, idleMs: 600_000, snapshotMs: 0, snapshotBytesPerMessage: perMessage,
    hostId, registry, log,
  });

  /** Sends values 1..count to ledger `id`, each only after a checkpoint ran since the one before was handled; returns the n of every snapshot written meanwhile. */
  async function feed(host: ActorHost, registry: Registry, id: string, count: number): Promise<number[]> {
    const kv = await new Kvm(nc).open(KV_SNAPSHOTS);
    const written: number[] = [];
    const watch = await kv.watch({ key: `a.ledger.${id}` });
    void (async () => {
      for await (const e of watch) {
        if (e.operation === "PUT") written.push((JSON.parse(new TextDecoder().decode(e.value)) as { state: LedgerState }).state.n);
      }
    })();
    await eventually("the host owns the partition", () => host.ownedPartitions().length === PARTITIONS, 10_000);
    const js = jetstream(nc);
    for (let k = 1; k <= count; k++) {
      await js.publish(actorSubject("ledger", id, PARTITIONS), JSON.stringify({ value: k }), { msgID: `${id}-${k}` });
      await eventually(`message ${k} handled`, async () => await metric(registry, "footfall_actor_messages_total", { kind: "ledger" }) >= k, 10_000, 5);
      const before = await metric(registry, "footfall_actor_checkpoints_total", { outcome: "written" });
      await eventually("two checkpoints since", async () => await metric(registry, "footfall_actor_checkpoints_total", { outcome: "written" }) >= before + 2, 10_000, 5);
    }
    await new Promise((r) => setTimeout(r, 200));
    watch.stop();
    return written;
  }

  it("without pacing, a changed actor is snapshotted at every checkpoint", async () => {
    const registry = new Registry();
    const host = await start(registry, "pace-off", 0);
    try {
      expect(await feed(host, registry, "plain", 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    } finally {
      await host.stop();
    }
  });

  it("with pacing, a 20 kB state waits for its share of messages; a host taking over replays the unsaved ones", async () => {
    const perMessage = 2000; // a snapshot of just over 20,000 bytes: due every 11 messages
    const registry = new Registry();
    const host = await start(registry, "pace-on", perMessage);
    let written: number[];
    try {
      written = await feed(host, registry, "big", 25);
    } catch (e) {
      await host.stop();
      throw e;
    }
    // the first snapshot (nothing written before) at once, then one per 11 messages
    expect(written).toEqual([1, 12, 23]);

    // the host loses the partition without a final checkpoint: messages 24 and 25 are in no snapshot
    const leases = await new Kvm(nc).open(KV_LEASES);
    await leases.put("p0", "thief");
    await eventually("the partition is dropped", () => host.ownedPartitions().length === 0, 5_000, 20);
    await host.stop();
    expect((await readSnapshot<LedgerState>(nc, "ledger", "big"))?.state.n).toBe(23);

    // the thief never renews; the next host takes over from the partition checkpoint and replays 24 and 25
    const registry2 = new Registry();
    const next = await start(registry2, "pace-next", perMessage);
    try {
      await eventually("the next host owns the partition", () => next.ownedPartitions().length === PARTITIONS, 10_000, 50);
      await eventually("24 and 25 replayed", async () => await metric(registry2, "footfall_actor_messages_total", { kind: "ledger" }) >= 2, 10_000, 20);
    } finally {
      await next.stop(); // a clean stop snapshots every changed actor
    }
    const last = await readSnapshot<LedgerState>(nc, "ledger", "big");
    expect({ n: last?.state.n, sum: last?.state.sum }).toEqual({ n: 25, sum: (25 * 26) / 2 });
  });
});
