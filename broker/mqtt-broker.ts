import net from "node:net";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from "aedes";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import type { DeviceRecord } from "../contracts/device.ts";
import type { KeyView } from "../contracts/api-keys.ts";
import { DEFAULTS } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import { gauge } from "../infra/metrics.ts";
import { keyIdOf } from "../access/api-key.ts";
import { throttleConfigOf, type AuthThrottleConfig, type LoginAttempt } from "../access/auth-throttle.ts";
import type { KeyStore } from "../access/key-store.ts";
import { LoginThrottle } from "../access/login-throttle.ts";
import { guardPackets, PACKET_TYPES, PUBLISH_HEADER_ROOM, type PacketGuard } from "./packet-guard.ts";
import { createBrokerMetrics, type BrokerMetrics, type RefusalReason } from "./broker-metrics.ts";
import { AckAfterStore, type PublishDone, type Ticket } from "./ack-after-store.ts";
import { ActorPublisher } from "./actor-publisher.ts";
import { timeLimits, type DeviceMessageTable } from "./device-messages/device-message.ts";
import { deviceMessages } from "./device-messages/index.ts";
import { readJson } from "./device-messages/payload.ts";
import type { DeviceRegistry } from "../topology/devices/device-registry.ts";
import { maySubscribe, publishAccess } from "./topic-access.ts";
import { readerMayReceive, readerSubscribeAccess } from "./reader-access.ts";
import type { OutPublish } from "./results/results-out.ts";

export interface MqttBrokerOptions {
  host: string;
  port: number;
  nc: NatsConnection;
  registry: DeviceRegistry;
  partitions: number;
  maxPayloadBytes: number;
  log: Logger;
  metrics?: Registry;
  /** JetStream publishes outstanding at once, over all clients (default 256) */
  maxInFlight?: number;
  /** the device message types read, checked and stored, by topic type (default: deviceMessages) */
  messages?: DeviceMessageTable;
  /** API keys: with them, integrators log in with username = key id, password = the key, and read results */
  keys?: KeyStore;
  /** told how many JetStream messages each stored device publish added, for the ingest rate */
  ingest?: { count(site: string, type: string, n: number): void };
  /** runs once aedes exists and before the listener opens (to leave the retained results in place first) */
  beforeListen?: (publish: OutPublish) => Promise<void>;
  /** FOOTFALL_RAW_RETENTION: events older than it allows are refused as too_late (default "INF": no bound) */
  rawRetention?: string;
  /** a subscriber whose socket does not drain for this long is disconnected (default READER_DRAIN_TIMEOUT_MS) */
  drainTimeoutMs?: number;
  /** serve MQTT over TLS only (certificate and key); without it, plain TCP */
  tls?: { cert: Buffer; key: Buffer; handshakeTimeoutMs?: number };
  /** largest packet before authentication, i.e. the CONNECT (default DEFAULTS.mqttMaxConnectBytes) */
  maxConnectBytes?: number;
  /** a connection without CONNECT for this long is closed (default DEFAULTS.mqttConnectTimeoutMs) */
  connectTimeoutMs?: number;
  /** most connections per device id at once (default DEFAULTS.mqttMaxConnectionsPerDevice) */
  maxConnectionsPerDevice?: number;
  /** JetStream stores in flight per connection before the broker stops reading it (default DEFAULTS.mqttStoresInFlight) */
  storesInFlight?: number;
  /** failed logins throttled per address and per device / key id (default: the FOOTFALL_AUTH_* defaults) */
  throttle?: AuthThrottleConfig;
  /** the throttle's clock (tests) */
  now?: () => number;
}

export interface MqttBroker {
  port: number;
  /** true while the TCP listener accepts connections */
  readonly listening: boolean;
  metrics: BrokerMetrics;
  /** Publishes to this broker's subscribers as the server (results, retained or not). */
  publish: OutPublish;
  /** Stops accepting, lets in-flight JetStream stores finish (and their PUBACKs go out), closes every client. */
  close(): Promise<void>;
}

/** Longest MQTT client id we accept (device ids are up to 64 characters; leave room for suffixes). */
const MAX_CLIENT_ID = 128;

/**
 * aedes holds a message's delivery until every subscriber's socket took it, with a bounded number
 * of messages in flight: a reader that stops reading would hold up the broker's own publishes
 * (and so device PUBACKs) until it is cut off. It is cut off after this long.
 */
export const READER_DRAIN_TIMEOUT_MS = 5000;

/** The listener: TLS only when given a certificate and key (a plain client fails the handshake), else plain TCP. */
function listenerFor(opts: MqttBrokerOptions["tls"], onConnection: (socket: net.Socket) => void): net.Server {
  return opts
    ? tls.createServer({ cert: opts.cert, key: opts.key, handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000 }, onConnection)
    : net.createServer(onConnection);
}

/**
 * The edge MQTT broker (aedes over TCP). Devices log in with username = device id and
 * password = secret, publish only under their own topic prefix, and subscribe only to their
 * command topic. Inside aedes' authorizePublish hook each publish is looked up by its topic type
 * in the device message table (device-messages/index.ts), read, checked against the device and
 * stored in JetStream (FF_ACTORS). AckAfterStore writes its PUBACK only once JetStream stored it
 * (or at once, for best-effort types such as status), in the order the publishes arrived, while
 * the connection's next publishes are read and stored meanwhile (at most storesInFlight at once).
 *
 * Refusals (bad topic, oversized, invalid JSON, schema errors, wrong doorway) are DROPPED, not
 * failed: the hook calls back without error so the device gets its PUBACK and moves on. An error
 * would make aedes close the connection (MQTT 3.1.1 has no negative PUBACK) and the device
 * would resend the same poison message on every reconnect, never serving again. The refusal is
 * logged with the device id and reason, and counted in footfall_broker_refused_total{reason}.
 * Nothing a device publishes is ever forwarded to MQTT subscribers (authorizeForward), so a
 * dropped publish goes nowhere; only server-side publishes (no client, e.g. commands) are delivered.
 *
 * Readers: with `keys`, an API key logs in as username = key id, password = the whole key
 * (told apart from a device by the password's key shape). A key's connection subscribes only to
 * the results of its sites (reader-access.ts), receives only those, and publishes nothing (its
 * publishes and last will are dropped and logged, the connection stays). A revoked key's
 * connections are closed.
 *
 * Every connection (admit, called for each accepted socket, plain or TLS): packet sizes are read
 * from the headers as the bytes arrive and an oversized packet closes the connection before its
 * body is read (packet-guard.ts; only a small CONNECT before authentication); no CONNECT within
 * connectTimeoutMs closes it; a device holds at most maxConnectionsPerDevice connections; failed
 * logins are throttled per address and per device / key id (access/auth-throttle.ts).
 */
export async function startMqttBroker(opts: MqttBrokerOptions): Promise<MqttBroker> {
  const log = opts.log.child({ component: "mqtt" });
  const publisher = new ActorPublisher(jetstream(opts.nc), {
    partitions: opts.partitions, maxInFlight: opts.maxInFlight ?? 256,
    onStoredAgain: (subject, msgId, err) => {
      metrics.storedAgain.inc();
      log.warn({ subject, msgId, err }, "jetstream kept answering duplicate for a message it had not stored; stored it again without its id");
    },
  });
  const messages = opts.messages ?? deviceMessages;
  const limits = timeLimits(opts.rawRetention ?? "INF");
  /** authenticated client -> the device and the secret hash it proved */
  const devices = new WeakMap<Client, { id: string; secretHash: string }>();
  const clients = new Set<Client>();
  /** authenticated API key connections -> the key */
  const readers = new Map<Client, KeyView>();
  let closing = false;

  const maxPerDevice = opts.maxConnectionsPerDevice ?? DEFAULTS.mqttMaxConnectionsPerDevice;
  /** device id -> its authenticated connections */
  const perDevice = new Map<string, Set<Client>>();
  /** each socket's remote address (kept: a destroyed socket no longer tells it) and packet guard */
  const peers = new WeakMap<object, { address: string; guard?: PacketGuard }>();
  const registry = opts.metrics ?? new Registry();
  const throttle = new LoginThrottle(opts.throttle ?? throttleConfigOf(DEFAULTS), "mqtt", registry, log, opts.now);
  // every broker counts the others' failed logins as its own
  const stopSharing = throttle.share(opts.nc);

  const aedes = await Aedes.createBroker({
    maxClientsIdLength: MAX_CLIENT_ID,
    drainTimeout: opts.drainTimeoutMs ?? READER_DRAIN_TIMEOUT_MS,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULTS.mqttConnectTimeoutMs,
    authenticate(client, username, password, done) {
      const clientId = client.id;
      const peer = peers.get(client.conn);
      const address = peer?.address;
      const attempt: LoginAttempt = { address, id: typeof username === "string" && username.length > 0 ? username.slice(0, 200) : undefined };
      const refuse = (why: string, reason: RefusalReason, returnCode: 3 | 5 = 5) => {
        metrics.refused.inc({ reason });
        log.warn({ clientId, username, address, reason: why }, "connection refused");
        const err = new Error(why) as AuthenticateError;
        err.returnCode = returnCode;
        done(err, false);
      };
      const failed = (why: string) => {
        const delayMs = throttle.failed(attempt);
        if (delayMs > 0) setTimeout(() => refuse(why, "bad_credentials"), delayMs);
        else refuse(why, "bad_credentials");
      };
      const accepted = () => {
        throttle.succeeded(attempt);
        peer?.guard?.authenticated();
        done(null, true);
      };
      if (closing) return refuse("broker is shutting down", "closing", 3);
      const admission = throttle.admit(attempt);
      if (admission.kind === "banned") {
        return refuse(`too many failed logins from ${address}: refused for ${Math.ceil(admission.retryAfterMs / 1000)} s more`, "auth_throttled");
      }
      if (admission.delayMs > 0) {
        log.info({ clientId, username, address, delayMs: admission.delayMs, scope: admission.scope }, "login delayed after failed logins");
        setTimeout(check, admission.delayMs);
      } else check();

      function check(): void {
        if (client.closed) return; // gone while delayed: aedes expects no answer
        if (closing) return refuse("broker is shutting down", "closing", 3);
        if (typeof username !== "string" || username.length === 0 || !password || password.length === 0) {
          return failed("username (device id or key id) and password (secret or key) are required");
        }
        const secret = password!.toString("utf8");
        if (keyIdOf(secret) !== undefined) {
          const key = opts.keys?.verify(secret, username);
          if (!key) return failed("unknown, revoked or wrong API key (username = key id, password = the key)");
          readers.set(client, key);
          client.conn.once("close", () => readers.delete(client));
          // a reader publishes nothing, not even a last will
          (client as unknown as { _will: unknown })._will = null;
          log.info({ clientId, key: key.id, sites: key.sites }, "reader connected");
          return accepted();
        }
        opts.registry.authenticate(username, secret).then(
          (device) => {
            if (!device) return failed("unknown device or wrong secret");
            const open = perDevice.get(device.id) ?? new Set<Client>();
            // a connection with the same client id is about to be taken over by this one: not counted
            const others = [...open].filter((c) => c.id !== clientId);
            if (others.length >= maxPerDevice) {
              throttle.succeeded(attempt); // the secret was right: no failure to count
              return refuse(`device ${device.id} already has ${others.length} connections (at most ${maxPerDevice})`, "too_many_connections", 3);
            }
            perDevice.set(device.id, open.add(client));
            client.conn.once("close", () => {
              open.delete(client);
              if (open.size === 0 && perDevice.get(device.id) === open) perDevice.delete(device.id);
            });
            devices.set(client, { id: device.id, secretHash: device.secretHash });
            clients.add(client);
            log.info({ clientId, device: device.id, address }, "device connected");
            accepted();
          },
          (err: unknown) => {
            log.error({ err, clientId, username }, "device authentication failed");
            refuse("authentication unavailable", "closing", 3);
          },
        );
      }
    },
    authorizePublish(client, packet, done) {
      if (!client) return done(null); // the broker's own publishes
      const key = readers.get(client);
      if (key) {
        packet.retain = false; // never replaces a retained result
        metrics.refused.inc({ reason: "read_only" });
        log.warn({ key: key.id, clientId: client.id, topic: packet.topic, reason: "read_only" }, "publish refused: an API key's connection is read-only");
        packet.payload = Buffer.alloc(0);
        return done(null); // dropped, as a device's refused publish (acknowledged; the connection stays)
      }
      authorizeDevicePublish(client, packet, done);
    },
    authorizeSubscribe(client, sub, done) {
      const key = readers.get(client);
      if (key) {
        const access = opts.keys?.get(key.id) ? readerSubscribeAccess(key, sub.topic) : { refused: `key ${key.id} was revoked` };
        if ("ok" in access) return done(null, sub);
        metrics.refused.inc({ reason: "subscribe_denied" });
        log.warn({ key: key.id, clientId: client.id, topic: sub.topic, reason: access.refused }, "subscription refused");
        return done(null, null); // SUBACK 0x80 for this topic
      }
      const device = currentDevice(client);
      if (device && maySubscribe(device, sub.topic)) return done(null, sub);
      metrics.refused.inc({ reason: "subscribe_denied" });
      log.warn({ device: devices.get(client)?.id, clientId: client.id, topic: sub.topic }, "subscription refused");
      done(null, null); // SUBACK 0x80 for this topic; the connection stays up
    },
    authorizeForward(client, packet) {
      // devices never talk to each other: only the server's own publishes are delivered
      if ((packet as { clientId?: string }).clientId) return null;
      const key = readers.get(client);
      return !key || readerMayReceive(key, packet.topic) ? packet : null;
    },
  });

  const metrics = createBrokerMetrics(registry, () => aedes.connectedClients ?? 0);
  gauge(registry, "footfall_broker_readers", "API key connections reading results", [], function () { this.set(readers.size); });
  const acks = new AckAfterStore(metrics, log, opts.storesInFlight ?? DEFAULTS.mqttStoresInFlight, decideDevicePublish);
  gauge(registry, "footfall_broker_stores_in_flight", "device publishes read and not yet confirmed stored by JetStream", [], function () { this.set(acks.inFlight); });
  gauge(registry, "footfall_broker_publishes_waiting", "device publishes read and waiting for their connection to have fewer stores in flight", [], function () { this.set(acks.queued); });

  aedes.on("clientDisconnect", (client) => {
    clients.delete(client);
    const key = readers.get(client);
    readers.delete(client);
    if (key) log.info({ clientId: client.id, key: key.id }, "reader disconnected");
    else log.info({ clientId: client.id, device: devices.get(client)?.id }, "device disconnected");
  });
  aedes.on("clientError", (client, err) => {
    log.debug({ clientId: client.id, device: devices.get(client)?.id, key: readers.get(client)?.id, err }, "client error");
  });
  aedes.on("connectionError", (client, err) => {
    if (err.message === "connect did not arrive in time") {
      metrics.refused.inc({ reason: "connect_timeout" });
      log.warn({ address: peers.get(client.conn)?.address, reason: "no CONNECT in time" }, "connection closed: no CONNECT in time");
      return;
    }
    log.debug({ clientId: client.id, address: peers.get(client.conn)?.address, err }, "connection error");
  });

  const packetLimits = {
    beforeAuth: opts.maxConnectBytes ?? DEFAULTS.mqttMaxConnectBytes,
    afterAuth: opts.maxPayloadBytes + PUBLISH_HEADER_ROOM,
  };
  /** Each new connection: its address remembered, its packet sizes checked as they arrive (packet-guard.ts). */
  function admit(client: Client): void {
    const socket = client.conn as net.Socket;
    const address = socket.remoteAddress ?? "unknown";
    const peer: { address: string; guard?: PacketGuard } = { address };
    peers.set(socket, peer);
    peer.guard = guardPackets(client, packetLimits, (v) => {
      const reason = v.reason === "too_large" ? "packet_too_large" : "malformed_packet";
      metrics.refused.inc({ reason });
      log.warn({
        address, port: socket.remotePort, clientId: client.id || undefined, device: devices.get(client)?.id, reason,
        packet: PACKET_TYPES[v.type], announced: v.announced, limit: v.limit, bytesRead: socket.bytesRead,
      }, "connection closed: packet too large or malformed (not read)");
    });
  }

  /** The device's current record, if it is still registered with the secret it logged in with. */
  function currentDevice(client: Client): DeviceRecord | undefined {
    const who = devices.get(client);
    if (!who) return undefined;
    const device = opts.registry.get(who.id);
    return device && device.secretHash === who.secretHash ? device : undefined;
  }

  // a removed device, or one whose secret changed, loses its open connections
  const stopWatching = opts.registry.onChange((id, record) => {
    for (const client of clients) {
      const who = devices.get(client);
      if (!who || who.id !== id || (record && record.secretHash === who.secretHash)) continue;
      log.warn({ clientId: client.id, device: id, why: record ? "secret changed" : "device removed" }, "disconnecting device");
      clients.delete(client);
      client.close();
    }
  });

  // a revoked key's connections end
  const stopRevoking = opts.keys?.onRevoked((id) => {
    for (const [client, key] of readers) {
      if (key.id !== id) continue;
      log.warn({ clientId: client.id, key: id }, "disconnecting reader: key revoked");
      readers.delete(client);
      client.close();
    }
  });

  function refuse(client: Client, device: string | undefined, packet: PublishPacket, reason: RefusalReason, detail: string, ticket: Ticket) {
    metrics.refused.inc({ reason });
    log.warn({ device, clientId: client.id, topic: packet.topic, qos: ticket.qos, reason, detail }, "publish refused");
    packet.payload = Buffer.alloc(0);
    ticket.accept(); // dropped: acknowledged, not stored, not forwarded (see the comment above)
  }

  function authorizeDevicePublish(client: Client, packet: PublishPacket, done: PublishDone): void {
    packet.retain = false; // devices never leave retained messages behind
    acks.receive(client, packet, done);
  }

  /** Reads and checks a device publish and settles its ticket: dropped, stored, or the connection closed. */
  function decideDevicePublish(client: Client, packet: PublishPacket, ticket: Ticket): void {
    const receivedAt = Date.now();
    if (closing) {
      metrics.refused.inc({ reason: "closing" });
      return ticket.close("broker is shutting down"); // no PUBACK: the device resends elsewhere or later
    }
    const device = currentDevice(client);
    if (!device) {
      metrics.refused.inc({ reason: "unknown_device" });
      log.warn({ device: devices.get(client)?.id, clientId: client.id, topic: packet.topic }, "publish from a device no longer registered; closing");
      return ticket.close("device no longer registered");
    }
    const access = publishAccess(device, packet.topic);
    if ("refused" in access) return refuse(client, device.id, packet, "topic_denied", access.refused, ticket);

    const handler = messages.get(access.type);
    if (!handler) {
      const json = readJson(packet.payload, opts.maxPayloadBytes);
      if (!json.ok) return refuse(client, device.id, packet, json.reason, json.detail, ticket);
      metrics.accepted.inc({ type: "other" });
      return ticket.accept(); // accepted, not bridged (yet)
    }
    const notAllowed = handler.checkDevice?.(device);
    if (notAllowed) return refuse(client, device.id, packet, "device_mismatch", notAllowed, ticket);
    const read = handler.read(packet.payload, opts.maxPayloadBytes);
    if (!read.ok) return refuse(client, device.id, packet, read.reason, read.detail, ticket);
    const value = read.value;
    const mismatch = handler.check?.(device, value);
    if (mismatch) return refuse(client, device.id, packet, "device_mismatch", mismatch, ticket);
    const late = handler.tooLate?.(value, receivedAt, limits);
    if (late) return refuse(client, device.id, packet, "too_late", late, ticket);

    ticket.store({
      type: access.type, ack: handler.ack, device: device.id, fields: handler.describe?.(value),
      store: () => handler.store(publisher, device, value, receivedAt),
      stored: (result) => {
        handler.count?.(metrics, value, result);
        opts.ingest?.count(device.site, access.type, handler.newlyStored ? handler.newlyStored(value, result) : 1);
      },
    });
  }

  const publish: OutPublish = (topic, payload, o) => new Promise((resolve, reject) => {
    aedes.publish({ cmd: "publish", topic, payload: Buffer.from(payload), qos: o.qos, retain: o.retain, dup: false }, (err) => (err ? reject(err) : resolve()));
  });
  if (opts.beforeListen) {
    try { await opts.beforeListen(publish); } catch (err) {
      stopWatching();
      stopRevoking?.();
      stopSharing();
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    }
  }

  const sockets = new Set<net.Socket>();
  const server = listenerFor(opts.tls, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {}); // aedes reports client errors itself
    admit(aedes.handle(socket));
  });
  if (opts.tls) {
    server.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      metrics.refused.inc({ reason: "tls_handshake" });
      log.warn({ remote: socket.remoteAddress, remotePort: socket.remotePort, reason: err.code ?? "handshake failed", err }, "connection refused: TLS handshake failed");
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err }, "mqtt listener error"));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: opts.host, port, tls: Boolean(opts.tls) }, "mqtt broker listening");

  let closed: Promise<void> | undefined;
  return {
    port,
    get listening() { return server.listening; },
    metrics,
    publish,
    close() {
      closed ??= (async () => {
        closing = true;
        const listenerClosed = new Promise<void>((r) => server.close(() => r()));
        await acks.settled();
        // let the PUBACKs written by the last callbacks reach the sockets before they are destroyed
        await new Promise((r) => setImmediate(r));
        await new Promise<void>((r) => aedes.close(() => r()));
        for (const s of sockets) s.destroy(); // connections that never completed CONNECT
        await listenerClosed;
        stopWatching();
        stopRevoking?.();
        stopSharing();
        log.info("mqtt broker closed");
      })();
      return closed;
    },
  };
}
