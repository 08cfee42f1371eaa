import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import type { JetStreamManager } from "@nats-io/jetstream";
import { crossing } from "../../broker/device-messages/crossing.ts";
import { deviceMessages } from "../../broker/device-messages/index.ts";
import type { DeviceMessage } from "../../broker/device-messages/device-message.ts";
import { crossingMsgId, type CrossingEvent } from "../../contracts/crossing.ts";
import { actorBodies } from "../../contracts/actor-batch.ts";
import { STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { retry } from "../support/retry.ts";
import { connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";

/**
 * The acknowledgement path over real TCP (aedes, mqtt.js) and a real nats-server: a connection's
 * publishes are stored while the earlier ones are still being stored, each PUBACK only once its
 * publish and every earlier one are stored, in the order the publishes were sent, with at most
 * storesInFlight stores per connection in flight.
 *
 * The crossings go through a table row "crossing" that wraps the real handler: storing goes to
 * JetStream as always, and the test decides when the broker learns of each store's outcome
 * (`hold`), so that stores finish in an order the test chooses.
 */

const BOUND = 8;
const TS = Date.UTC(2026, 10, 23, 10, 0, 0);

interface Held { id: string; release(): void }

/** The crossing handler with the store's outcome held until `hold` lets it go; counts stores in flight. */
function heldCrossings(hold: (held: Held, active: number) => void) {
  const seen = { active: 0, max: 0, started: [] as string[] };
  const handler: DeviceMessage<CrossingEvent[], unknown> = {
    ...(crossing as DeviceMessage<CrossingEvent[], unknown>),
    async store(publisher, dev, events, receivedAt) {
      seen.active++;
      seen.max = Math.max(seen.max, seen.active);
      const id = events[0]!.id;
      seen.started.push(id);
      try {
        const stored = crossing.store(publisher, dev, events, receivedAt).then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err }));
        await new Promise<void>((release) => hold({ id, release }, seen.active));
        const out = await stored;
        if (!out.ok) throw out.err;
        return out.r;
      } finally {
        seen.active--;
      }
    },
  };
  return { handler: handler as DeviceMessage, seen };
}

/** Sends `n` crossings at once (QoS 1); records the packet ids sent and the PUBACKs received, in order. */
function sendMany(c: MqttClient, n: number, prefix: string) {
  const sent: number[] = [];
  const acked: number[] = [];
  const idOf = new Map<number, string>();
  c.on("packetsend", (p) => { if (p.cmd === "publish" && p.qos === 1) sent.push(p.messageId!); });
  c.on("packetreceive", (p) => { if (p.cmd === "puback") acked.push(p.messageId!); });
  const topic = deviceTopic("mall", "dpu", "dpu-1", "crossing");
  const results = Array.from({ length: n }, (_, i) => {
    const id = `${prefix}${i}`;
    const r = c.publishAsync(topic, JSON.stringify({ id, ts: TS + i, doorway: "d1", delta: 1 }), { qos: 1 });
    return r.then(() => id, () => undefined);
  });
  // mqtt.js numbers the packets as it writes them, in call order
  const idsByPacket = () => { sent.forEach((pid, i) => idOf.set(pid, `${prefix}${i}`)); return idOf; };
  return { sent, acked, results, idsByPacket };
}

/** Every Nats-Msg-Id in FF_ACTORS. */
async function storedIds(jsm: JetStreamManager): Promise<Set<string>> {
  const info = await retry(() => jsm.streams.info(STREAM_ACTORS));
  const ids = new Set<string>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await retry(() => jsm.streams.getMessage(STREAM_ACTORS, { seq }).catch((e: Error) => {
      if (/no message found/i.test(e.message)) return null;
      throw e;
    }));
    // a lone crossing or a batch of them (contracts/actor-batch.ts): each crossing's key
    if (m) for (const c of actorBodies(m.json<unknown>()) as Array<{ device: string; eventId: string }>) ids.add(crossingMsgId(c.device, c.eventId));
  }
  return ids;
}

describe("PUBACK after store, without waiting for the store to read on (real aedes over TCP, nats-server)", () => {
  let s: TestServices;
  let b: BrokerUnderTest | undefined;
  let c: MqttClient | undefined;
  const dpu = device("dpu-1", { doorway: "d1" });

  async function start(handler: DeviceMessage) {
    b = await startBrokerUnderTest(s, {
      devices: [dpu],
      messages: new Map([...deviceMessages, ["crossing", handler]]),
      broker: { storesInFlight: BOUND },
    });
    await b.jsm.streams.purge(STREAM_ACTORS);
    c = await connectDevice(b.url, "dpu-1", dpu[1]);
    return { b, c };
  }

  beforeAll(async () => { s = await startTestServices({ influx: false }); });
  afterEach(async () => {
    c?.end(true);
    c = undefined;
    await b?.stop();
    b = undefined;
  });
  afterAll(async () => { await s?.stop(); });

  it("100 publishes in flight: stores finish in reverse, PUBACKs leave in the order sent; never more than the bound in flight", { timeout: 60_000 }, async () => {
    let held: Held[] = [];
    let gauge: number | undefined;
    let total = 0;
    const { handler, seen } = heldCrossings((h, active) => {
      held.push(h);
      // a group is let go, last one first, once the broker has as many stores in flight as it takes
      if (active < BOUND && seen.started.length < total) return;
      const group = held;
      held = [];
      void (gauge === undefined ? metricValue(b.metrics, "footfall_broker_stores_in_flight").then((v) => { gauge = v; }) : Promise.resolve())
        .then(() => { for (const g of group.reverse()) g.release(); });
    });
    const { b, c } = await start(handler);
    total = 100;
    const run = sendMany(c, total, "e");
    const ids = await Promise.all(run.results);
    expect(ids.filter((x) => x === undefined)).toEqual([]);

    expect(run.acked).toHaveLength(total);
    expect(run.acked).toEqual(run.sent); // MQTT 3.1.1 §4.6: PUBACKs in the order of the PUBLISHes
    expect(seen.max).toBe(BOUND); // reached (stores overlap) and never exceeded
    expect(gauge).toBe(BOUND);
    expect(await metricValue(b.metrics, "footfall_broker_reads_paused_total")).toBeGreaterThan(0);
    const stored = await storedIds(b.jsm);
    for (let i = 0; i < total; i++) expect(stored.has(`dpu-1:e${i}`)).toBe(true);
    expect(await metricValue(b.metrics, "footfall_broker_publishes_accepted_total", { type: "crossing" })).toBe(total);
    expect(await metricValue(b.metrics, "footfall_broker_stores_in_flight")).toBe(0);
  });

  it("a store that fails: the publishes before it are acknowledged, it and every later one not, and the connection closes", { timeout: 60_000 }, async () => {
    const FAIL = "f4";
    let laterStored = 0;
    let fail: (() => void) | undefined;
    // f4's store fails, but only once the publishes after it (f5..f7) are stored in JetStream
    // and so could be acknowledged
    const failing: DeviceMessage<CrossingEvent[], unknown> = {
      ...(crossing as DeviceMessage<CrossingEvent[], unknown>),
      async store(publisher, dev, events, receivedAt) {
        if (events[0]!.id !== FAIL) {
          const r = await crossing.store(publisher, dev, events, receivedAt);
          laterStored++;
          return r;
        }
        await new Promise<void>((r) => { fail = r; });
        throw new Error("JetStream did not store it");
      },
    };
    const { b, c } = await start(failing as DeviceMessage);
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    const run = sendMany(c, 8, "f");
    await retry(async () => { if (laterStored < 7 || !fail) throw new Error("stores not done yet"); }, 20_000, 20);
    fail!();
    await closed;
    const byPacket = run.idsByPacket();
    expect(run.acked.map((pid) => byPacket.get(pid))).toEqual(["f0", "f1", "f2", "f3"]);
    expect(await metricValue(b.metrics, "footfall_broker_bridge_failures_total")).toBe(1);
    expect(b.logs.lines.find((l) => l.msg === "publish not acknowledged: jetstream did not confirm"))
      .toMatchObject({ device: "dpu-1", qos: 1, err: { message: "JetStream did not store it" } });
  });

  it("a clean close with stores in flight and publishes waiting: the stored are acknowledged in order, the rest not, every connection closed", { timeout: 60_000 }, async () => {
    const N = 20;
    const held: Held[] = [];
    const { handler } = heldCrossings((h) => { held.push(h); });
    const { b, c } = await start(handler);
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    const run = sendMany(c, N, "c");
    await retry(async () => { if (held.length < BOUND) throw new Error("stores not begun yet"); }, 20_000, 20);
    // the broker has read on beyond the bound: those publishes wait for room, unread ones in the socket
    await retry(async () => { if (await metricValue(b.metrics, "footfall_broker_publishes_waiting") === 0) throw new Error("none waiting yet"); }, 20_000, 20);
    const closing = b.broker.close();
    for (const h of held.splice(0)) h.release(); // the stores in flight finish after the close began
    await closing;
    await closed;
    const byPacket = run.idsByPacket();
    const ackedIds = run.acked.map((pid) => byPacket.get(pid)!);
    expect(ackedIds).toEqual(Array.from({ length: BOUND }, (_, i) => `c${i}`));
    const stored = await storedIds(b.jsm);
    for (const id of ackedIds) expect(stored.has(`dpu-1:${id}`)).toBe(true);
    expect(await metricValue(b.metrics, "footfall_broker_stores_in_flight")).toBe(0);
    expect(await metricValue(b.metrics, "footfall_broker_publishes_waiting")).toBe(0);
    expect(await metricValue(b.metrics, "footfall_broker_refused_total", { reason: "closing" })).toBeGreaterThan(0);
  });

  it("nats-server killed with stores in flight: what was acknowledged is in the stream, the acknowledged are the first ones sent", { timeout: 60_000 }, async () => {
    const N = 100;
    let killed: Promise<void> | undefined;
    // the 51st store to begin kills nats-server; from then on the broker learns of a store's
    // outcome only once it is dead, and the stores begun after it go to a dead server
    const { handler } = heldCrossings((h) => {
      if (h.id === "k50") killed ??= s.nats!.kill();
      if (killed) void killed.then(() => h.release());
      else h.release();
    });
    const { b, c } = await start(handler);
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    const run = sendMany(c, N, "k");
    await closed; // JetStream did not confirm: the broker closed the connection
    const byPacket = run.idsByPacket();
    const ackedIds = run.acked.map((pid) => byPacket.get(pid)!);
    expect(ackedIds.length).toBeLessThan(N);
    // in order, without a gap: a prefix of what was sent
    expect(ackedIds).toEqual(Array.from({ length: ackedIds.length }, (_, i) => `k${i}`));

    await s.restartNats({ downMs: 0 });
    const stored = await storedIds(b.jsm);
    for (const id of ackedIds) expect(stored.has(`dpu-1:${id}`)).toBe(true);
  });
});
