import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceTopic } from "../../contracts/topics.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";
import { mosquittoPub } from "../e2e/mosquitto-clients.ts";
import { device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";

const BAN_AFTER = 3;
const throttle = { freeFailures: 10, delayMs: 0, maxDelayMs: 0, banAfter: BAN_AFTER, banMs: 60_000 };

/**
 * Two brokers on one nats-server, Debian's mosquitto_pub as the guesser: failed logins at either
 * broker count at both, so an address spreading its guesses over the brokers is banned as soon as
 * its failures add up, at every broker.
 */
describe("failed MQTT logins shared between brokers (real nats-server, two aedes brokers, mosquitto_pub)", () => {
  let s: TestServices;
  let a: BrokerUnderTest;
  let b: BrokerUnderTest;
  const dpu = device("dpu-s1");
  const topic = deviceTopic("mall", "dpu", "dpu-s1", "status");
  const payload = JSON.stringify({ online: true });
  const shared = (x: BrokerUnderTest) => metricValue(x.metrics, "footfall_auth_shared_total", { surface: "mqtt", outcome: "failed" });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    a = await startBrokerUnderTest(s, { devices: [dpu], broker: { throttle } });
    b = await startBrokerUnderTest(s, { devices: [dpu], broker: { throttle } });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await s?.stop();
  });

  it("bans an address whose failures add up over two brokers, at both", async () => {
    // the right secret works at both to begin with
    await mosquittoPub(a.broker.port, "dpu-s1", dpu[1], topic, payload, ["-i", "dpu-s1"]);
    await mosquittoPub(b.broker.port, "dpu-s1", dpu[1], topic, payload, ["-i", "dpu-s1"]);

    // two wrong guesses at broker a, one at broker b: each broker alone has seen fewer than BAN_AFTER
    for (const [x, other] of [[a, b], [a, b], [b, a]] as const) {
      const before = await shared(other);
      await expect(mosquittoPub(x.broker.port, "dpu-s1", "wrong-secret", topic, payload, ["-i", "dpu-s1"])).rejects.toThrow(/not authori[sz]ed|refused/i);
      await eventually("the other broker heard of it", async () => await shared(other) === before + 1, 5_000, 10);
    }
    expect(b.logs.lines.some((l) => l.msg === "address banned after repeated failed logins" && l.address === "127.0.0.1")).toBe(true);

    // now banned at both: even the right secret is refused unchecked
    for (const x of [a, b]) {
      await expect(mosquittoPub(x.broker.port, "dpu-s1", dpu[1], topic, payload, ["-i", "dpu-s1"])).rejects.toThrow(/not authori[sz]ed|refused/i);
      expect(await metricValue(x.metrics, "footfall_broker_refused_total", { reason: "auth_throttled" })).toBe(1);
    }
  });
});
