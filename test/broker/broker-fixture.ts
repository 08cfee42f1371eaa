import { pino } from "pino";
import mqtt, { type MqttClient } from "mqtt";
import { Registry } from "prom-client";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { DeviceKind, DeviceRecord } from "../../contracts/device.ts";
import { KV_DEVICES, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import type { Logger } from "../../infra/log.ts";
import { connectNats } from "../../infra/nats.ts";
import { provisionNats } from "../../infra/provision.ts";
import { hashSecretSync } from "../../topology/devices/device-secret.ts";
import { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import { startMqttBroker, type MqttBroker, type MqttBrokerOptions } from "../../broker/mqtt-broker.ts";
import type { DeviceMessageTable } from "../../broker/device-messages/device-message.ts";
import type { TestServices } from "../support/services.ts";
import { retry } from "../support/retry.ts";

/** pino output kept in memory, one parsed JSON object per line. */
export interface LogCapture { log: Logger; lines: Array<Record<string, unknown>> }

export function captureLog(): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

export interface BrokerUnderTest {
  nc: NatsConnection;
  jsm: JetStreamManager;
  kv: KV;
  registry: DeviceRegistry;
  broker: MqttBroker;
  metrics: Registry;
  logs: LogCapture;
  url: string;
  stop(): Promise<void>;
}

export const PARTITIONS = 8;

/** Provisions NATS, opens the registry and starts the MQTT broker on a free port against `s`. */
export async function startBrokerUnderTest(
  s: TestServices,
  opts: {
    maxPayloadBytes?: number; devices?: Array<[DeviceRecord, string]>; messages?: DeviceMessageTable;
    /** more broker options (API keys, results, ingest) */
    broker?: Partial<MqttBrokerOptions>;
  } = {},
): Promise<BrokerUnderTest> {
  const logs = captureLog();
  const nc = await connectNats(s.natsUrl, "broker-test");
  await provisionNats(nc, { leaseTtlMs: 3000 });
  const kv = await new Kvm(nc).open(KV_DEVICES);
  for (const [d] of opts.devices ?? []) await kv.put(d.id, JSON.stringify(d));
  const registry = await DeviceRegistry.open(nc, logs.log);
  const metrics = new Registry();
  const broker = await startMqttBroker({
    host: "127.0.0.1", port: 0, nc, registry, partitions: PARTITIONS,
    maxPayloadBytes: opts.maxPayloadBytes ?? 4096, log: logs.log, metrics, messages: opts.messages, ...opts.broker,
  });
  return {
    nc, jsm: await jetstreamManager(nc), kv, registry, broker, metrics, logs,
    url: `mqtt://127.0.0.1:${broker.port}`,
    async stop() {
      await broker.close();
      registry.close();
      await nc.close();
    },
  };
}

/** A device record with a fresh secret hash; returns [record, secret]. */
export function device(id: string, opts: { kind?: DeviceKind; site?: string; doorway?: string } = {}): [DeviceRecord, string] {
  const secret = `secret-of-${id}`;
  const record: DeviceRecord = {
    id, kind: opts.kind ?? "dpu", site: opts.site ?? "mall", secretHash: hashSecretSync(secret),
    ...(opts.kind && opts.kind !== "dpu" && !opts.doorway ? {} : { doorway: opts.doorway ?? "d1" }),
  };
  return [record, secret];
}

/** Connects a device; rejects with the CONNACK error if the broker refuses. */
export function connectDevice(url: string, id: string, secret: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId: `${id}-${Math.random().toString(36).slice(2, 8)}`, username: id, password: secret, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once("connect", () => resolve(c));
    c.once("error", (e) => { c.end(true); reject(e); });
  });
}

export async function actorMessages(jsm: JetStreamManager): Promise<number> {
  return retry(async () => (await jsm.streams.info(STREAM_ACTORS)).state.messages, 10_000);
}

/** Sum of a prom-client metric's samples with the given labels. */
export async function metricValue(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .filter((v) => !("metricName" in v) || v.metricName === name || v.metricName === undefined)
    .reduce((sum, v) => sum + v.value, 0);
}
