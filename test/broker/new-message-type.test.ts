import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { deviceMessages } from "../../broker/device-messages/index.ts";
import { STREAM_ACTORS, actorSubject } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { provisionNats } from "../../infra/provision.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { PARTITIONS, actorMessages, connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";
import { temperature, temperatureMsgId } from "./fixtures/fake-message.ts";

const TS = Date.UTC(2026, 10, 23, 10, 0, 0);

describe("a new device message type is one handler file and one table row (real broker, nats-server, mqtt.js)", () => {
  let s: TestServices;
  let b: BrokerUnderTest;
  const dpu = device("dpu-t", { doorway: "d1" });
  const cam = device("cam-t", { kind: "camera" });
  const clients: MqttClient[] = [];
  const connect = async (d: [{ id: string }, string]) => {
    const c = await connectDevice(b.url, d[0].id, d[1]);
    clients.push(c);
    return c;
  };
  const topic = (type: string, d: "dpu" | "camera" = "dpu") => deviceTopic("mall", d, d === "dpu" ? "dpu-t" : "cam-t", type);
  const refused = (reason: string) => metricValue(b.metrics, "footfall_broker_refused_total", { reason });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    b = await startBrokerUnderTest(s, {
      devices: [dpu, cam],
      messages: new Map([...deviceMessages, ["temperature", temperature]]), // the one row
    });
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await b?.stop();
    await s?.stop();
  });

  it("stores a valid reading before the PUBACK, once, and counts it as accepted", async () => {
    const c = await connect(dpu);
    const before = await actorMessages(b.jsm);
    await c.publishAsync(topic("temperature"), JSON.stringify({ celsius: 21.5, ts: TS }), { qos: 1 });
    // the PUBACK has arrived: the reading is in the stream already
    expect((await b.jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(before + 1);
    const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: actorSubject("site", "mall", PARTITIONS) });
    expect(sm!.header.get("Nats-Msg-Id")).toBe(temperatureMsgId("dpu-t", TS));
    expect(sm!.json()).toMatchObject({ type: "temperature", site: "mall", device: "dpu-t", celsius: 21.5, ts: TS });
    expect(await metricValue(b.metrics, "footfall_broker_publishes_accepted_total", { type: "temperature" })).toBe(1);

    await c.publishAsync(topic("temperature"), JSON.stringify({ celsius: 21.5, ts: TS }), { qos: 1 }); // a re-send
    expect(await actorMessages(b.jsm)).toBe(before + 1);
  });

  it("refuses invalid readings with the reason counted and logged, stores nothing, keeps serving", async () => {
    const c = await connect(dpu);
    const camera = await connect(cam);
    const before = await actorMessages(b.jsm);
    const logsBefore = b.logs.lines.length;
    const bad: Array<[MqttClient, string, string, string, RegExp]> = [
      [c, topic("temperature"), "{\"celsius\":", "invalid_json", /not JSON/],
      [c, topic("temperature"), JSON.stringify({ celsius: 500, ts: TS }), "invalid_payload", /celsius above 100/],
      [c, topic("temperature"), JSON.stringify({ celsius: 20, ts: TS, humidity: 40 }), "invalid_payload", /humidity/],
      [c, topic("temperature"), JSON.stringify({ celsius: 20, ts: TS, pad: "x".repeat(5000) }), "too_large", /exceeds the limit/],
      [camera, topic("temperature", "camera"), JSON.stringify({ celsius: 20, ts: TS }), "device_mismatch", /only dpus carry a thermometer/],
    ];
    const reasons = [...new Set(bad.map(([, , , reason]) => reason))];
    const countsBefore = await Promise.all(reasons.map(refused));
    for (const [client, t, payload] of bad) await client.publishAsync(t, payload, { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before);
    expect(await Promise.all(reasons.map(refused)))
      .toEqual(reasons.map((reason, i) => countsBefore[i]! + bad.filter(([, , , r]) => r === reason).length));
    const refusals = b.logs.lines.slice(logsBefore).filter((l) => l.msg === "publish refused");
    expect(refusals.map((l) => l.reason)).toEqual(bad.map(([, , , reason]) => reason));
    bad.forEach(([, , , , why], i) => expect(String(refusals[i]!.detail)).toMatch(why));

    await c.publishAsync(topic("temperature"), JSON.stringify({ celsius: 19, ts: TS + 60_000 }), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 1);
    expect(c.connected && camera.connected).toBe(true);
  });

  it("a type with no row is only JSON-checked and accepted as other, stored nowhere", async () => {
    const c = await connect(dpu);
    const before = await actorMessages(b.jsm);
    const other = await metricValue(b.metrics, "footfall_broker_publishes_accepted_total", { type: "other" });
    await c.publishAsync(topic("humidity"), JSON.stringify({ percent: 40 }), { qos: 1 });
    expect(await metricValue(b.metrics, "footfall_broker_publishes_accepted_total", { type: "other" })).toBe(other + 1);
    expect(await actorMessages(b.jsm)).toBe(before);
  });

  it("withholds the PUBACK while JetStream cannot store the reading; the resend is stored", async () => {
    const c = await connect(dpu);
    const failures = await metricValue(b.metrics, "footfall_broker_bridge_failures_total");
    await b.jsm.streams.delete(STREAM_ACTORS);
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    let acked = false;
    const reading = JSON.stringify({ celsius: 4, ts: TS + 120_000 });
    void c.publishAsync(topic("temperature"), reading, { qos: 1 }).then(() => { acked = true; }, () => {});
    await closed; // no PUBACK: aedes closed the connection
    expect(acked).toBe(false);
    expect(await metricValue(b.metrics, "footfall_broker_bridge_failures_total")).toBe(failures + 1);
    const line = b.logs.lines.find((l) => l.msg === "publish not acknowledged: jetstream did not confirm" && l.type === "temperature");
    // the Error itself is logged (pino serializes type, message, stack), not only its message
    expect(line).toMatchObject({ device: "dpu-t", clientId: expect.any(String), qos: 1, err: { type: expect.any(String), message: expect.any(String), stack: expect.any(String) } });

    await provisionNats(b.nc, { leaseTtlMs: 3000 });
    const again = await connect(dpu);
    await again.publishAsync(topic("temperature"), reading, { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(1);
  });
});
