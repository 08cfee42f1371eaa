import { jetstream } from "@nats-io/jetstream";
import { influxUrlOf, natsUrlOf, type Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { startOpsServer } from "../infra/ops-server.ts";
import { serverTlsOf } from "../infra/tls.ts";
import { createRegistry } from "../infra/metrics.ts";
import { influxClient, provisionNats } from "../infra/provision.ts";
import { KeyStore } from "../access/key-store.ts";
import { throttleConfigOf } from "../access/auth-throttle.ts";
import { DeviceRegistry } from "../topology/devices/device-registry.ts";
import { startMqttBroker } from "./mqtt-broker.ts";
import { brokerInstanceId, IngestRateCounter } from "./ingest-rate.ts";
import { InfluxCountHistory } from "./results/history-counts.ts";
import { startResultsOut, type ResultsOut } from "./results/results-out.ts";

export interface RunningBroker {
  /** the MQTT listener's port (the TLS one when TLS is on) */
  mqttPort: number;
  opsPort: number;
  stop(): Promise<void>;
}

/**
 * The edge broker process: NATS (provisioned), the device registry, the API keys, the MQTT broker
 * on cfg.bind:cfg.mqttPort (with FOOTFALL_TLS_CERT / _KEY: over TLS only, on cfg.mqttsPort) and /healthz + /metrics on cfg.bind:cfg.brokerOpsPort. Before the
 * listener opens, the results (results/results-out.ts) are in place: readers get the current
 * counts retained from their first subscription. Every cfg.ingestWindowMs it publishes its
 * ingest rate per site (ingest-rate.ts).
 * stop() says "offline" on the results' status topics, stops accepting, lets in-flight JetStream
 * stores finish (their PUBACKs go out), publishes the last ingest window, then drains NATS.
 */
export async function runBroker(cfg: Config): Promise<RunningBroker> {
  const log = createLogger("broker", cfg.logLevel);
  // with a certificate, MQTT over TLS only (cfg.mqttsPort); cfg.mqttPort is not opened
  const tls = serverTlsOf(cfg);
  const nc = await connectNats(natsUrlOf(cfg), "footfall-broker", log);
  let natsUp = true;
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") natsUp = false;
      else if (s.type === "reconnect") natsUp = true;
    }
  })().catch(() => {});

  const metrics = createRegistry("broker");
  let registry: DeviceRegistry | undefined;
  let keys: KeyStore | undefined;
  let results: ResultsOut | undefined;
  try {
    await provisionNats(nc, cfg, log);
    registry = await DeviceRegistry.open(nc, log);
    keys = await KeyStore.open(nc, log);
    const broker = brokerInstanceId();
    const ingest = new IngestRateCounter(jetstream(nc), broker, log, cfg.ingestWindowMs);
    const history = new InfluxCountHistory(influxClient(influxUrlOf(cfg), cfg.influxDb), cfg.influxDb);
    const mqtt = await startMqttBroker({
      host: cfg.bind,
      port: tls ? cfg.mqttsPort : cfg.mqttPort,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      nc,
      registry,
      partitions: cfg.partitions,
      maxPayloadBytes: cfg.maxPayloadBytes,
      maxConnectBytes: cfg.mqttMaxConnectBytes,
      connectTimeoutMs: cfg.mqttConnectTimeoutMs,
      maxConnectionsPerDevice: cfg.mqttMaxConnectionsPerDevice,
      storesInFlight: cfg.mqttStoresInFlight,
      throttle: throttleConfigOf(cfg),
      rawRetention: cfg.rawRetention,
      log,
      metrics,
      keys,
      ingest,
      beforeListen: async (publish) => { results = await startResultsOut({ nc, publish, log, metrics, history }); },
    });
    ingest.start();
    const devices = registry;
    const apiKeys = keys;
    const ops = await startOpsServer({
      host: cfg.bind,
      port: cfg.brokerOpsPort,
      registry: metrics,
      health: () => {
        const nats = natsUp && !nc.isClosed();
        return {
          ok: nats && mqtt.listening, nats: nats ? "connected" : "disconnected", mqtt: mqtt.listening ? "listening" : "closed", tls: Boolean(tls),
          devices: devices.size, results: results?.state ?? "starting", broker,
        };
      },
    });
    log.info({ mqtt: `${tls ? "mqtts" : "mqtt"}://${cfg.bind}:${mqtt.port}`, ops: `${cfg.bind}:${ops.port}`, broker }, "broker running");

    let stopped: Promise<void> | undefined;
    return {
      mqttPort: mqtt.port,
      opsPort: ops.port,
      stop() {
        stopped ??= (async () => {
          log.info("broker stopping");
          await results?.stop();
          await mqtt.close();
          await ingest.stop();
          await ops.close();
          devices.close();
          apiKeys.close();
          await nc.drain().catch((err: unknown) => log.warn({ err }, "nats drain failed"));
          log.info("broker stopped");
        })();
        return stopped;
      },
    };
  } catch (err) {
    await results?.stop();
    registry?.close();
    keys?.close();
    await nc.close().catch(() => {});
    throw err;
  }
}
