import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig, natsUrlOf, type Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { createRegistry, startOpsServer } from "../infra/ops-server.ts";
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
 * stop() stops accepting, lets in-flight bridge publishes finish, then drains NATS.
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

function isEntryModule(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return fs.realpathSync(path.resolve(arg)) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryModule()) {
  const log = createLogger("broker");
  try {
    const broker = await runBroker(loadConfig());
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      broker.stop().then(() => process.exit(0), (err: unknown) => {
        log.error({ err }, "broker did not stop cleanly");
        process.exit(1);
      });
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  } catch (err) {
    log.fatal({ err }, "broker failed to start");
    process.exit(1);
  }
}
