import { connect, type MqttClient } from "mqtt";
import { deviceTopic } from "../../contracts/topics.ts";
import type { ChunkMeta } from "../../contracts/video.ts";
import { encodeStill, type StillHeader } from "../../contracts/still.ts";
import { createLogger, type Logger } from "../../infra/log.ts";
import { isCertificateError } from "../../infra/tls.ts";
import { brokerServers, currentBroker, DEFAULT_ACK_TIMEOUT_MS, parseBrokerList, watchAcks } from "../../edge/broker-list.ts";

/**
 * A camera's MQTT uplink to the edge broker, MQTT 3.1.1 (username = device id, password = its
 * secret). The camera agent's two processes speak through it, and so do the simulator's smart cameras:
 *
 *   footfall/v1/{site}/camera/{id}/detections   one DetectionFrame per frame, QoS 1, in the order given
 *   footfall/v1/{site}/camera/{id}/status       heartbeats at QoS 0; last will {"state":"offline"}
 *   footfall/v1/{site}/camera/{id}/chunk        a video chunk the camera agent stored (ChunkMeta), QoS 1
 *   footfall/v1/{site}/camera/{id}/still        the newest picture as a JPEG (contracts/still.ts), QoS 1
 *
 * What goes into a frame is decided by the caller (the detection loop, or the simulator's camera
 * run); this class only connects, publishes and reports acknowledgements. mqtt.js
 * reconnects on its own (every reconnectPeriodMs) and resends unacknowledged QoS 1 publishes.
 * Given several brokers, each reconnect goes to the next one, and a broker that leaves a publish
 * unacknowledged for ackTimeoutMs is left for the next (edge/broker-list.ts).
 */
export interface CameraUplinkOptions {
  /** broker URL, e.g. mqtt://127.0.0.1:1883, or several (comma-separated or a list) to fail over between */
  url: string | readonly string[];
  /** a publish not acknowledged within this long drops the connection and moves to the next broker (default 10 s) */
  ackTimeoutMs?: number;
  /** PEM CA the broker's certificate must verify against (mqtts://); default: the system's roots */
  ca?: Buffer | string;
  deviceId: string;
  /** MQTT client id (default: the device id); one device's processes need distinct ones, e.g. "cam-1.detect" */
  clientId?: string;
  secret: string;
  site: string;
  fps: number;
  width: number;
  height: number;
  /** leave the last will {"state":"offline"} (default true); false for a client that is not the camera's voice, e.g. the chunk uploader */
  will?: boolean;
  /** longest wait for a CONNACK (default 5 s) */
  connectTimeoutMs?: number;
  /** pause between reconnect attempts (default 500 ms) */
  reconnectPeriodMs?: number;
  log?: Logger;
}

export interface CameraUplinkCounters {
  /** frame messages the broker acknowledged */
  framesAcked: number;
  /** status messages handed to the connection */
  statusSent: number;
  /** CONNACKs that refused the connection */
  refused: number;
  /** TLS errors because the broker's certificate did not verify (an attempt may report more than one) */
  untrusted: number;
  /** connections given up because a publish waited ackTimeoutMs for its PUBACK */
  ackTimeouts: number;
}

/** A status heartbeat as the uplink publishes it. */
export interface CameraStatusOut {
  state: "online" | "offline";
  ts?: number;
  fps?: number;
  width?: number;
  height?: number;
  uptime_s?: number;
}

let defaultLog: Logger | undefined;

export class CameraUplink {
  readonly counters: CameraUplinkCounters = { framesAcked: 0, statusSent: 0, refused: 0, untrusted: 0, ackTimeouts: 0 };
  readonly detectionsTopic: string;
  readonly statusTopic: string;
  readonly chunkTopic: string;
  readonly stillTopic: string;
  private client: MqttClient | undefined;
  private readonly log: Logger;
  private stopped = false;
  private readonly urls: string[];

  constructor(private readonly opts: CameraUplinkOptions) {
    this.urls = parseBrokerList(opts.url);
    this.log = (opts.log ?? (defaultLog ??= createLogger("camera-uplink"))).child({ device: opts.deviceId });
    this.detectionsTopic = deviceTopic(opts.site, "camera", opts.deviceId, "detections");
    this.statusTopic = deviceTopic(opts.site, "camera", opts.deviceId, "status");
    this.chunkTopic = deviceTopic(opts.site, "camera", opts.deviceId, "chunk");
    this.stillTopic = deviceTopic(opts.site, "camera", opts.deviceId, "still");
  }

  get deviceId(): string { return this.opts.deviceId; }

  get online(): boolean { return !this.stopped && this.client?.connected === true; }

  /** Connects (with the last will set). Resolves true once connected, false when the first attempt failed (mqtt.js keeps retrying). */
  start(): Promise<boolean> {
    if (this.stopped) return Promise.reject(new Error(`camera ${this.opts.deviceId} was stopped`));
    if (this.client) return Promise.resolve(this.online);
    const client = connect(this.urls[0]!, {
      ...brokerServers(this.urls),
      clientId: this.opts.clientId ?? this.opts.deviceId,
      username: this.opts.deviceId,
      password: this.opts.secret,
      clean: false,
      protocolVersion: 4,
      keepalive: 30,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 500,
      connectTimeout: this.opts.connectTimeoutMs ?? 5000,
      // mqtts://: the broker's certificate must verify (against `ca`, else the system's roots)
      rejectUnauthorized: true,
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      ...(this.opts.will === false ? {} : {
        will: { topic: this.statusTopic, payload: Buffer.from(JSON.stringify({ state: "offline" })), qos: 1 as const, retain: false },
      }),
    });
    this.client = client;
    watchAcks(client, {
      timeoutMs: this.opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
      onStall: (s) => {
        this.counters.ackTimeouts++;
        this.log.warn(s, "broker stopped acknowledging; moving to the next broker");
      },
    });
    return new Promise((resolve) => {
      let first = true;
      const outcome = (ok: boolean) => { if (first) { first = false; resolve(ok); } };
      client.on("connect", () => { this.log.debug({ broker: currentBroker(client) }, "connected"); outcome(true); });
      client.on("error", (err: Error & { code?: unknown }) => {
        if (typeof err.code === "number" && (err.code === 4 || err.code === 5)) {
          this.counters.refused++;
          this.log.warn({ returnCode: err.code }, "broker refused the connection");
        } else if (isCertificateError(err)) {
          this.counters.untrusted++;
          this.log.warn({ err, url: this.opts.url }, "the broker's TLS certificate did not verify: not connecting");
        } else {
          this.log.debug({ err: err.message }, "connection error");
        }
      });
      client.on("close", () => outcome(false));
    });
  }

  /** Publishes one frame message at QoS 1; resolves on its PUBACK. */
  publishFrame(payload: string | Buffer): Promise<void> {
    const client = this.client;
    if (!client || this.stopped) return Promise.reject(new Error(`camera ${this.opts.deviceId} is not started`));
    return new Promise((resolve, reject) => {
      client.publish(this.detectionsTopic, payload, { qos: 1 }, (err) => {
        if (err) { reject(err); return; }
        this.counters.framesAcked++;
        resolve();
      });
    });
  }

  /** Announces a stored video chunk (its signed ChunkMeta) at QoS 1; resolves on its PUBACK. */
  publishChunk(meta: ChunkMeta): Promise<void> {
    const client = this.client;
    if (!client || this.stopped) return Promise.reject(new Error(`camera ${this.opts.deviceId} is not started`));
    return new Promise((resolve, reject) => {
      client.publish(this.chunkTopic, JSON.stringify(meta), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Publishes a still (its header line and JPEG) at QoS 1; resolves on its PUBACK (the broker stored it). */
  publishStill(header: StillHeader, jpeg: Uint8Array): Promise<void> {
    const client = this.client;
    if (!client || this.stopped) return Promise.reject(new Error(`camera ${this.opts.deviceId} is not started`));
    const payload = Buffer.from(encodeStill(header, jpeg));
    return new Promise((resolve, reject) => {
      client.publish(this.stillTopic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Publishes a heartbeat at QoS 0 (dropped while disconnected, like a real camera's). */
  publishStatus(status: CameraStatusOut): void {
    const client = this.client;
    if (!client || !client.connected || this.stopped) return;
    client.publish(this.statusTopic, JSON.stringify(status), { qos: 0 });
    this.counters.statusSent++;
  }

  /** The heartbeat for an instant of the camera's life. */
  heartbeat(ts: number, uptimeS: number): CameraStatusOut {
    return { state: "online", ts, fps: this.opts.fps, width: this.opts.width, height: this.opts.height, uptime_s: Math.round(uptimeS * 10) / 10 };
  }

  /** Power loss: the TCP connection drops without DISCONNECT, so the broker publishes the last will. */
  crash(): void {
    this.stopped = true;
    this.client?.end(true);
    this.client = undefined;
  }

  /**
   * Shuts down cleanly: waits up to graceMs for unacknowledged frames, optionally announces
   * {"state":"offline"} itself (a clean DISCONNECT does not fire the will), then disconnects.
   */
  async stop(opts: { graceMs?: number; announceOffline?: boolean } = {}): Promise<void> {
    const client = this.client;
    if (this.stopped || !client) { this.stopped = true; return; }
    if (opts.announceOffline && client.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.graceMs ?? 1000);
        client.publish(this.statusTopic, JSON.stringify({ state: "offline" }), { qos: 1 }, () => { clearTimeout(timer); resolve(); });
      });
    }
    this.stopped = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { client.end(true); resolve(); }, opts.graceMs ?? 1000);
      client.end(false, {}, () => { clearTimeout(timer); resolve(); });
    });
    this.client = undefined;
  }
}
