import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import { loadConfig } from "../../infra/config.ts";
import { connectNats } from "../../infra/nats.ts";
import { runBroker } from "../../broker/main.ts";
import { KV_DEVICES, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { freePort } from "../support/ports.ts";
import { retry } from "../support/retry.ts";
import { connectDevice, device } from "./broker-fixture.ts";

describe("runBroker: the broker process (real nats-server)", () => {
  let s: TestServices;
  beforeAll(async () => { s = await startTestServices({ influx: false }); });
  afterAll(async () => { await s?.stop(); });

  it("provisions NATS, serves MQTT, /healthz and /metrics, and stops cleanly", async () => {
    const cfg = loadConfig({
      dataDir: s.dataDir, natsUrl: s.natsUrl, mqttPort: await freePort(), brokerOpsPort: await freePort(),
      partitions: 4, logLevel: "silent",
    });
    const broker = await runBroker(cfg);
    let stopped = false;
    try {
      const health = await fetch(`http://127.0.0.1:${cfg.brokerOpsPort}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, nats: "connected", mqtt: "listening" });

      const nc = await connectNats(s.natsUrl, "main-test");
      const dpu = device("dpu-main", { doorway: "d1" });
      await (await new Kvm(nc).open(KV_DEVICES)).put("dpu-main", JSON.stringify(dpu[0]));
      // the registry picks the device up within moments
      const c = await retry(() => connectDevice(`mqtt://127.0.0.1:${cfg.mqttPort}`, "dpu-main", dpu[1]), 10_000, 100);
      await c.publishAsync(deviceTopic("mall", "dpu", "dpu-main", "crossing"), JSON.stringify({ id: "m1", ts: Date.now() - 60_000, doorway: "d1", delta: 1 }), { qos: 1 });
      expect((await (await jetstreamManager(nc)).streams.info(STREAM_ACTORS)).state.messages).toBe(1);

      const metrics = await (await fetch(`http://127.0.0.1:${cfg.brokerOpsPort}/metrics`)).text();
      expect(metrics).toMatch(/footfall_broker_connections\{process="broker"\} 1/);
      expect(metrics).toMatch(/footfall_broker_bridged_events_total\{process="broker"\} 1/);
      expect(metrics).toContain("footfall_broker_bridge_latency_seconds_bucket");

      const closed = new Promise<void>((r) => c.once("close", () => r()));
      await broker.stop();
      stopped = true;
      await closed;
      const after = await connectDevice(`mqtt://127.0.0.1:${cfg.mqttPort}`, "dpu-main", dpu[1]).then(() => "connected", () => "refused");
      expect(after).toBe("refused");
      await expect(fetch(`http://127.0.0.1:${cfg.brokerOpsPort}/healthz`)).rejects.toThrow();
      c.end(true);
      await nc.close();
    } finally {
      if (!stopped) await broker.stop();
    }
  });
});
