import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { CrossingMsg } from "../../contracts/occupancy-messages.ts";
import { STREAM_ACTORS, actorSubject } from "../../contracts/nats-layout.ts";
import { commandTopic, deviceTopic } from "../../contracts/topics.ts";
import { actorBodies } from "../../contracts/actor-batch.ts";
import { countActorBodies } from "../support/stream-read.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";
import {
  PARTITIONS, actorMessages, connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest,
} from "./broker-fixture.ts";

const TS = Date.UTC(2026, 10, 23, 10, 0, 0);
const MAX_PAYLOAD = 64 * 1024;

describe("mqtt broker: devices in, jetstream out (real nats-server, aedes over TCP, mqtt.js)", () => {
  let s: TestServices;
  let b: BrokerUnderTest;
  const dpu7 = device("dpu-7", { doorway: "d2" });
  const dpu8 = device("dpu-8", { doorway: "d3" });
  const cam1 = device("cam-1", { kind: "camera" });
  const clients: MqttClient[] = [];
  const connect = async (d: [{ id: string }, string], opts = {}) => {
    const c = await connectDevice(b.url, d[0].id, d[1], opts);
    clients.push(c);
    return c;
  };
  const crossingTopic = (id: string) => deviceTopic("mall", "dpu", id, "crossing");

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    // the tests keep their connections open until the end: more than a device's usual few
    b = await startBrokerUnderTest(s, { maxPayloadBytes: MAX_PAYLOAD, devices: [dpu7, dpu8, cam1], broker: { maxConnectionsPerDevice: 16 } });
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await b?.stop();
    await s?.stop();
  });

  it("stores a QoS 1 crossing in FF_ACTORS before the PUBACK, and a resend stores nothing new", async () => {
    const c = await connect(dpu7);
    const before = await actorMessages(b.jsm);
    const event = { id: "e-1", ts: "2026-11-23T10:00:00Z", doorway: "d2", delta: 1 };
    await c.publishAsync(crossingTopic("dpu-7"), JSON.stringify(event), { qos: 1 });
    // the PUBACK has arrived: the message must be in the stream already, no waiting
    const info = await b.jsm.streams.info(STREAM_ACTORS);
    expect(info.state.messages).toBe(before + 1);
    const subject = actorSubject("doorway", "mall.d2", PARTITIONS);
    const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subject });
    expect(sm).not.toBeNull();
    expect(sm!.subject).toBe(subject);
    expect(sm!.header.get("Nats-Msg-Id")).toBe("dpu-7:e-1");
    const msg = CrossingMsg.parse(sm!.json());
    expect(msg).toMatchObject({ type: "crossing", site: "mall", doorway: "d2", device: "dpu-7", eventId: "e-1", ts: TS, delta: 1 });

    const dupBefore = await metricValue(b.metrics, "footfall_broker_duplicate_events_total");
    await c.publishAsync(crossingTopic("dpu-7"), JSON.stringify(event), { qos: 1 });
    expect((await b.jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(before + 1);
    expect(await metricValue(b.metrics, "footfall_broker_duplicate_events_total")).toBe(dupBefore + 1);
  });

  it("stores a batch of 500 events before its PUBACK, as one message of the doorway's mailbox", async () => {
    const c = await connect(dpu7, { clientId: "dpu-7-batch" });
    const before = await actorMessages(b.jsm);
    const subject = actorSubject("doorway", "mall.d2", PARTITIONS);
    const bodiesBefore = await countActorBodies(b.nc, STREAM_ACTORS, subject);
    const events = Array.from({ length: 500 }, (_, i) => ({ id: `b-${i}`, ts: TS + i * 1000, doorway: "d2", delta: i % 3 === 0 ? -1 : 1 }));
    const bridgedBefore = await metricValue(b.metrics, "footfall_broker_bridged_events_total");
    await c.publishAsync(crossingTopic("dpu-7"), JSON.stringify({ events }), { qos: 1 });
    // the payload's events are coalesced: one JetStream message holding all 500, in order
    expect((await b.jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(before + 1);
    const last = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subject });
    expect(actorBodies(last?.json<unknown>()).map((x) => (x as { eventId: string }).eventId)).toEqual(events.map((e) => e.id));
    expect(await countActorBodies(b.nc, STREAM_ACTORS, subject)).toBe(bodiesBefore + 500);
    expect(await metricValue(b.metrics, "footfall_broker_bridged_events_total")).toBe(bridgedBefore + 500);
  });

  it("refuses a wrong password with CONNACK not authorised, and logs the client", async () => {
    const err = await connectDevice(b.url, "dpu-7", "not-the-secret", { clientId: "intruder-1" }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: number }).code).toBe(5);
    const unknown = await connectDevice(b.url, "dpu-404", "whatever", { clientId: "intruder-2" }).then(() => undefined, (e: unknown) => e);
    expect((unknown as { code?: number }).code).toBe(5);
    expect(b.logs.lines.some((l) => l.msg === "connection refused" && l.clientId === "intruder-1" && l.username === "dpu-7")).toBe(true);
    expect(await metricValue(b.metrics, "footfall_broker_refused_total", { reason: "bad_credentials" })).toBeGreaterThanOrEqual(2);
  });

  it("refuses a publish under another device's topic: nothing stored, nothing delivered", async () => {
    const victim = await connect(dpu8);
    const got: string[] = [];
    victim.on("message", (t) => got.push(t));
    const granted = await victim.subscribeAsync(commandTopic("mall", "dpu", "dpu-8"), { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    const attacker = await connect(dpu7);
    const before = await actorMessages(b.jsm);
    const refusedBefore = await metricValue(b.metrics, "footfall_broker_refused_total", { reason: "topic_denied" });
    const forged = { id: "forged-1", ts: TS, doorway: "d3", delta: 1 };
    await attacker.publishAsync(crossingTopic("dpu-8"), JSON.stringify(forged), { qos: 1 });
    await attacker.publishAsync(commandTopic("mall", "dpu", "dpu-8"), JSON.stringify({ cmd: "reboot" }), { qos: 1 });
    await attacker.publishAsync(deviceTopic("other-site", "dpu", "dpu-7", "crossing"), JSON.stringify(forged), { qos: 1 });
    await attacker.publishAsync("footfall/v1/mall/dpu/dpu-7/crossing/extra", JSON.stringify(forged), { qos: 1 });
    expect((await b.jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(before);
    expect(await metricValue(b.metrics, "footfall_broker_refused_total", { reason: "topic_denied" })).toBe(refusedBefore + 4);
    expect(b.logs.lines.some((l) => l.msg === "publish refused" && l.device === "dpu-7" && l.topic === crossingTopic("dpu-8"))).toBe(true);
    // the victim's subscription works (a ping through its own connection) but got nothing forged
    await victim.publishAsync(deviceTopic("mall", "dpu", "dpu-8", "status"), JSON.stringify({ ok: true }), { qos: 1 });
    expect(got).toEqual([]);
  });

  it("refuses a subscription to any topic but the device's own command topic", async () => {
    const c = await connect(dpu7);
    const topics = [commandTopic("mall", "dpu", "dpu-8"), crossingTopic("dpu-8"), "footfall/#", commandTopic("mall", "dpu", "dpu-7")];
    // mqtt.js rejects a SUBACK holding a failure code; the packet still carries every code
    const err = await c.subscribeAsync(topics, { qos: 1 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { packet?: { granted?: number[] } }).packet?.granted).toEqual([128, 128, 128, 1]);
    const own = await c.subscribeAsync(commandTopic("mall", "dpu", "dpu-7"), { qos: 1 });
    expect(own[0]?.qos).toBe(1);
    expect(b.logs.lines.some((l) => l.msg === "subscription refused" && l.device === "dpu-7" && l.topic === "footfall/#")).toBe(true);
  });

  it("drops 1,000 malformed payloads (nothing stored, refusals counted and logged) and keeps serving", async () => {
    const c = await connect(dpu7);
    const cam = await connect(cam1);
    const before = await actorMessages(b.jsm);
    const refusedBefore = await metricValue(b.metrics, "footfall_broker_refused_total");
    const logsBefore = b.logs.lines.length;
    const bad = malformedPayloads(1000);
    expect(bad.length).toBe(1000);
    await Promise.all(bad.map((p, i) => {
      const [client, topic] = p.from === "camera"
        ? [cam, deviceTopic("mall", "camera", "cam-1", p.type ?? "crossing")]
        : [c, deviceTopic("mall", "dpu", "dpu-7", p.type ?? "crossing")];
      return client.publishAsync(topic, p.payload, { qos: i % 4 === 0 ? 0 : 1 });
    }));
    // QoS 0 publishes have no acknowledgement: wait until every refusal was counted
    await eventually("1000 refusals counted", async () =>
      (await metricValue(b.metrics, "footfall_broker_refused_total")) - refusedBefore >= 1000, 20_000, 50);
    expect((await metricValue(b.metrics, "footfall_broker_refused_total")) - refusedBefore).toBe(1000);
    expect(await actorMessages(b.jsm)).toBe(before);
    for (const reason of ["too_large", "invalid_json", "invalid_payload", "device_mismatch"]) {
      expect(await metricValue(b.metrics, "footfall_broker_refused_total", { reason }), reason).toBeGreaterThan(0);
    }
    const refusals = b.logs.lines.slice(logsBefore).filter((l) => l.msg === "publish refused");
    expect(refusals.length).toBe(1000);
    for (const l of refusals) {
      expect(["dpu-7", "cam-1"]).toContain(l.device);
      expect(typeof l.detail === "string" && l.detail.length > 0).toBe(true);
    }
    expect(refusals.some((l) => l.reason === "device_mismatch" && l.detail === "device dpu-7 sits on doorway d2, not d5")).toBe(true);
    expect(refusals.some((l) => l.reason === "invalid_payload" && String(l.detail).includes("ts out of range"))).toBe(true);

    // the same connection and another device still get their crossings stored
    await c.publishAsync(crossingTopic("dpu-7"), JSON.stringify({ id: "after-storm", ts: TS, doorway: "d2", delta: 1 }), { qos: 1 });
    const other = await connect(dpu8);
    await other.publishAsync(crossingTopic("dpu-8"), JSON.stringify({ events: [{ id: "x1", ts: TS, doorway: "d3", delta: -1 }] }), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 2);
    expect(c.connected && cam.connected).toBe(true);
  });

  it("bridges QoS 0 crossings too (best effort)", async () => {
    const c = await connect(dpu8);
    const before = await actorMessages(b.jsm);
    c.publish(crossingTopic("dpu-8"), JSON.stringify({ id: "q0-1", ts: TS, doorway: "d3", delta: 1 }), { qos: 0 });
    await eventually("qos 0 crossing stored", async () => (await actorMessages(b.jsm)) === before + 1, 10_000, 50);
    const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: actorSubject("doorway", "mall.d3", PARTITIONS) });
    expect(sm?.header.get("Nats-Msg-Id")).toBe("dpu-8:q0-1");
  });
});

interface BadPayload { payload: Buffer | string; type?: string; from?: "camera" }

/** Deterministic junk: every way a device can get a payload wrong. */
function malformedPayloads(n: number): BadPayload[] {
  let seed = 42;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const ok = (i: number) => ({ id: `m-${i}`, ts: Date.UTC(2026, 0, 1), doorway: "d2", delta: 1 });
  const kinds: Array<(i: number) => BadPayload> = [
    () => ({ payload: Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))) }),
    () => ({ payload: "" }),
    () => ({ payload: "{\"id\": \"a\", " }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), id: 5, ts: "yesterday", doorway: 3, delta: "1" }) }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), delta: 2 }) }),
    (i) => ({ payload: `{"id":"m-${i}","ts":1e400,"doorway":"d2","delta":1}` }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), ts: Number.MAX_SAFE_INTEGER * 1000 }) }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), ts: 1.5e12 + 0.5 }) }),
    (i) => { const { ts: _ts, ...rest } = ok(i); return { payload: JSON.stringify(rest) }; },
    (i) => { const { doorway: _d, ...rest } = ok(i); return { payload: JSON.stringify(rest) }; },
    (i) => ({ payload: JSON.stringify({ ...ok(i), extra: true }) }),
    (i) => ({ payload: JSON.stringify({ events: [ok(i)], more: 1 }) }),
    (i) => ({ payload: JSON.stringify({ events: Array.from({ length: 1000 }, (_, k) => ({ ...ok(i), id: `${i}-${k}-${"x".repeat(60)}` })) }) }), // > 64 KiB
    (i) => ({ payload: JSON.stringify({ events: Array.from({ length: 1001 }, (_, k) => ({ ...ok(i), id: `${k}` })) }) }), // too many events
    (i) => ({ payload: JSON.stringify({ ...ok(i), doorway: "d5" }) }),
    (i) => ({ payload: JSON.stringify({ events: [ok(i), { ...ok(i), id: `n-${i}`, doorway: "d5" }] }) }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), ts: "1999-12-31T23:59:59Z" }) }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), ts: Date.UTC(2200, 0, 1) }) }),
    () => ({ payload: JSON.stringify({ events: [] }) }),
    (i) => ({ payload: JSON.stringify({ events: [ok(i), ok(i)] }) }),
    (i) => ({ payload: JSON.stringify([ok(i)]) }),
    () => ({ payload: "null" }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), id: "has space" }) }),
    (i) => ({ payload: JSON.stringify({ ...ok(i), doorway: "../../etc" }) }),
    (i) => ({ payload: JSON.stringify(ok(i)), from: "camera" }),
    () => ({ payload: "not json at all", type: "status" }),
    () => ({ payload: "x".repeat(MAX_PAYLOAD + 1), type: "status" }),
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]!(i));
}
