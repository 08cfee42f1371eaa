/**
 * A device's list of MQTT brokers and its failover between them: the simulator's DPUs and smart
 * cameras and the camera agent's processes all connect through here.
 *
 * A device is given one broker URL or several (`mqtt://a:1883,mqtt://b:1883`). Every broker can
 * take every device: a broker keeps no per-device state that matters (it stores each accepted
 * publish in JetStream before its PUBACK, with a Nats-Msg-Id made of the device id and the event
 * id, and the actors de-duplicate event ids), so a device may move between brokers at any time.
 *
 * Failover is mqtt.js' own `servers` rotation: every (re)connect goes to the next broker of the
 * list, so a broker that is down or refuses is skipped after one attempt. A broker that is up but
 * stops acknowledging (its JetStream is gone, the network went silent, a half-open connection)
 * is left by the acknowledgement watchdog: when a QoS 1 publish has waited longer than
 * `ackTimeoutMs` for its PUBACK, the connection is destroyed, and mqtt.js resends the
 * unacknowledged publishes to the next broker. The old broker may still have stored some of them:
 * the same event id reaches JetStream twice and is stored once.
 */
import type { IClientOptions, MqttClient, Packet } from "mqtt";
import { z } from "zod";

const URL_RE = /^(mqtts?|tcp|ssl):\/\/[^\s,/:]+(:\d{1,5})?\/?$/;

/** One broker URL: mqtt://host[:port] or mqtts://host[:port]. */
export const BrokerUrl = z.string().trim().regex(URL_RE, "a broker URL must look like mqtt://host:1883 or mqtts://host:8883");

/** A comma-separated list of broker URLs (at least one), as the CLI options take it. */
export const BrokerList = z.string()
  .transform((s) => s.split(",").map((u) => u.trim()).filter((u) => u.length > 0))
  .pipe(z.array(BrokerUrl).min(1, "at least one broker URL (mqtt://host:port), several separated by commas"));

/** The broker URLs of a comma-separated list or an array; throws naming the bad URL. */
export function parseBrokerList(urls: string | readonly string[]): string[] {
  const list = typeof urls === "string" ? urls : urls.join(",");
  const r = BrokerList.safeParse(list);
  if (!r.success) throw new Error(`invalid broker list "${list}": ${r.error.issues.map((i) => i.message).join("; ")}`);
  return r.data;
}

const DEFAULT_PORT: Record<string, number> = { mqtt: 1883, tcp: 1883, mqtts: 8883, ssl: 8883 };

/** mqtt.js connect options that rotate over the brokers: connect(first, { ...opts, ...brokerServers(list) }). */
export function brokerServers(urls: readonly string[]): Pick<IClientOptions, "servers"> {
  return {
    servers: urls.map((u) => {
      const url = new URL(u);
      const protocol = url.protocol.replace(/:$/, "") as "mqtt" | "mqtts" | "tcp" | "ssl";
      return { host: url.hostname, port: url.port ? Number(url.port) : DEFAULT_PORT[protocol]!, protocol };
    }),
  };
}

/** The broker the client is talking to now (or last tried), as host:port. */
export function currentBroker(client: MqttClient): string {
  const o = client.options as { hostname?: string; host?: string; port?: number };
  return `${o.hostname ?? o.host ?? "?"}:${o.port ?? "?"}`;
}

export interface AckWatchdogOptions {
  /** longest wait for a PUBACK before the broker is given up on (ms) */
  timeoutMs: number;
  /** told when a connection is dropped for a missing PUBACK */
  onStall?: (info: { broker: string; waitedMs: number; unacked: number }) => void;
}

/**
 * Watches a client's QoS 1/2 publishes for their acknowledgement; destroys the connection when
 * one has waited longer than `timeoutMs` (the client reconnects, to the next broker, and resends
 * what was not acknowledged). Returns the function that stops watching.
 */
export function watchAcks(client: MqttClient, opts: AckWatchdogOptions): () => void {
  const sentAt = new Map<number, number>();
  const onSend = (p: Packet) => {
    if (p.cmd === "publish" && p.qos > 0 && p.messageId !== undefined && !sentAt.has(p.messageId)) sentAt.set(p.messageId, Date.now());
  };
  const onReceive = (p: Packet) => {
    if ((p.cmd === "puback" || p.cmd === "pubrec") && p.messageId !== undefined) sentAt.delete(p.messageId);
  };
  // publishes left unacknowledged are resent on the next connection and timed from then
  const onClose = () => sentAt.clear();
  client.on("packetsend", onSend);
  client.on("packetreceive", onReceive);
  client.on("close", onClose);
  const every = Math.max(10, Math.floor(opts.timeoutMs / 4));
  const timer = setInterval(() => {
    if (!client.connected || sentAt.size === 0) return;
    let oldest = Infinity;
    for (const t of sentAt.values()) if (t < oldest) oldest = t;
    const waitedMs = Date.now() - oldest;
    if (waitedMs < opts.timeoutMs) return;
    opts.onStall?.({ broker: currentBroker(client), waitedMs, unacked: sentAt.size });
    sentAt.clear();
    client.stream.destroy();
  }, every);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    client.off("packetsend", onSend);
    client.off("packetreceive", onReceive);
    client.off("close", onClose);
    client.off("end", stop);
  };
  client.on("end", stop);
  return stop;
}

/** Default wait for a PUBACK before failing over (ms): well above a healthy broker's store latency. */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
