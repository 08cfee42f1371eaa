import { natsUrlOf, type Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { startOpsServer } from "../infra/ops-server.ts";
import { createRegistry } from "../infra/metrics.ts";
import { provisionNats } from "../infra/provision.ts";
import { DeviceRegistry } from "../topology/devices/device-registry.ts";
import { startMqttBroker } from "./mqtt-broker.ts";

export interface RunningBroker {
  mqttPort: number;
  opsPort: number;
  stop(): Promise<void>;
}

/**
 * The edge broker process: NATS (provisioned), the device registry, the MQTT broker on
 * cfg.bind:cfg.mqttPort and /healthz + /metrics on cfg.bind:cfg.brokerOpsPort.
 * stop() stops accepting, lets in-flight JetStream stores finish (their PUBACKs go out), then drains NATS.
 */
export async function runBroker(cfg: Config): Promise<RunningBroker> {
  const log = createLogger("broker", cfg.logLevel);
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
  try {
    await provisionNats(nc, cfg, log);
    registry = await DeviceRegistry.open(nc, log);
    const mqtt = await startMqttBroker({
      host: cfg.bind,
      port: cfg.mqttPort,
      nc,
      registry,
      partitions: cfg.partitions,
      maxPayloadBytes: cfg.maxPayloadBytes,
      log,
      metrics,
    });
    const devices = registry;
    const ops = await startOpsServer({
      host: cfg.bind,
      port: cfg.brokerOpsPort,
      registry: metrics,
      health: () => {
        const nats = natsUp && !nc.isClosed();
        return { ok: nats && mqtt.listening, nats: nats ? "connected" : "disconnected", mqtt: mqtt.listening ? "listening" : "closed", devices: devices.size };
      },
    });
    log.info({ mqtt: `${cfg.bind}:${mqtt.port}`, ops: `${cfg.bind}:${ops.port}` }, "broker running");

    let stopped: Promise<void> | undefined;
    return {
      mqttPort: mqtt.port,
      opsPort: ops.port,
      stop() {
        stopped ??= (async () => {
          log.info("broker stopping");
          await mqtt.close();
          await ops.close();
          devices.close();
          await nc.drain().catch((err: unknown) => log.warn({ err }, "nats drain failed"));
          log.info("broker stopped");
        })();
        return stopped;
      },
    };
  } catch (err) {
    registry?.close();
    await nc.close().catch(() => {});
    throw err;
  }
}
