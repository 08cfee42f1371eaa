import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { STREAM_ACTORS, actorSubject } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually, retry } from "../support/retry.ts";
import { PARTITIONS, connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";

describe("no PUBACK before JetStream stored the crossing (nats-server killed and restarted)", () => {
  let s: TestServices;
  let b: BrokerUnderTest;
  let c: MqttClient | undefined;
  const dpu = device("dpu-1", { doorway: "d1" });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    b = await startBrokerUnderTest(s, { devices: [dpu] });
  });
  afterAll(async () => {
    c?.end(true);
    await b?.stop();
    await s?.stop();
  });

  it("withholds the PUBACK while nats is down; the device's resend is stored exactly once", async () => {
    // reconnecting device: mqtt.js resends unacknowledged QoS 1 publishes after reconnecting
    c = await connectDevice(b.url, "dpu-1", dpu[1], { clientId: "dpu-1", reconnectPeriod: 300 });
    const topic = deviceTopic("mall", "dpu", "dpu-1", "crossing");
    await c.publishAsync(topic, JSON.stringify({ id: "before", ts: Date.UTC(2026, 0, 1), doorway: "d1", delta: 1 }), { qos: 1 });

    await s.nats!.kill();
    let acked = false;
    const puback = c.publishAsync(topic, JSON.stringify({ id: "during-outage", ts: Date.UTC(2026, 0, 1, 0, 1), doorway: "d1", delta: -1 }), { qos: 1 })
      .then(() => { acked = true; });
    await new Promise((r) => setTimeout(r, 2000));
    expect(acked).toBe(false);

    await s.restartNats({ downMs: 0 });
    await puback;
    expect(acked).toBe(true);

    const subject = actorSubject("doorway", "mall.d1", PARTITIONS);
    const info = await retry(() => b.jsm.streams.info(STREAM_ACTORS, { subjects_filter: subject }));
    expect(info.state.messages).toBe(2);
    const last = await retry(() => b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subject }));
    expect(last?.header.get("Nats-Msg-Id")).toBe("dpu-1:during-outage");
    expect(await metricValue(b.metrics, "footfall_broker_bridge_failures_total")).toBeGreaterThan(0);
  });

  it("keeps following the device bucket after the nats-server restart", async () => {
    const late = device("dpu-after-restart", { doorway: "d2" });
    await retry(() => b.kv.put(late[0].id, JSON.stringify(late[0])));
    await eventually("registry sees a device added after the restart", () => b.registry.get(late[0].id) !== undefined, 30_000, 100);
  });
});
