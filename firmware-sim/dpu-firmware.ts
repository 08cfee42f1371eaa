import path from "node:path";
import { connect, type MqttClient } from "mqtt";
import { CrossingEvent, MAX_BATCH_EVENTS } from "../contracts/crossing.ts";
import { deviceTopic } from "../contracts/topics.ts";
import { createLogger, type Logger } from "../infra/log.ts";
import { isCertificateError } from "../infra/tls.ts";
import { brokerServers, currentBroker, DEFAULT_ACK_TIMEOUT_MS, parseBrokerList, watchAcks } from "../edge/broker-list.ts";
import { CrossingBuffer, type HeldCrossing } from "./crossing-buffer.ts";
import { chance, deriveSeed, mulberry32, shuffle, type Rng } from "./random.ts";

export interface DpuFirmwareOptions {
  /** broker URL, e.g. mqtt://127.0.0.1:1883, or several (comma-separated or a list): each reconnect tries the next (edge/broker-list.ts) */
  url: string | readonly string[];
  /** PEM CA the broker's certificate must verify against (mqtts://); default: the system's roots */
  ca?: Buffer | string;
  deviceId: string;
  secret: string;
  site: string;
  /** a publish not acknowledged within this long drops the connection and moves to the next broker (default 10 s) */
  ackTimeoutMs?: number;
  /** the disk buffer lives here, as {deviceId}.buffer.jsonl */
  dataDir: string;
  /** the device clock runs this far ahead (+) or behind (-) true time */
  clockSkewMs?: number;
  /** share of crossings published twice (0..1) */
  duplicateRate?: number;
  /** randomness for duplicates and replay order (default: seeded from the device id) */
  rng?: Rng;
  /** crossings per replay message (1..1000, default 200) */
  batchSize?: number;
  /** replay messages awaiting their PUBACK at once (default 4) */
  replayWindow?: number;
  /** longest wait for a CONNACK (default 5 s) */
  connectTimeoutMs?: number;
  /** first reconnect delay, doubled after each failed attempt (default 100 ms) */
  reconnectMinMs?: number;
  /** reconnect delay cap (default 2 s) */
  reconnectMaxMs?: number;
  /** called with the crossings of every publish the broker acknowledged (PUBACK), live or replayed, second copies included */
  onAcked?: (crossings: readonly HeldCrossing[]) => void;
  log?: Logger;
}

/** A crossing the sensor saw: ts in TRUE time (the firmware adds its clock skew). */
export interface SensedCrossing {
  /** unique per device; default: a boot id and a sequence number */
  id?: string;
  ts: number;
  doorway: string;
  delta: 1 | -1;
}

export interface FirmwareCounters {
  /** crossing copies the broker acknowledged (live and replayed, duplicates included) */
  sent: number;
  /** of those, deliberate second copies */
  duplicatesSent: number;
  /** crossings written to the disk buffer (offline, or in flight when the connection was closed) */
  buffered: number;
  /** buffered crossings acknowledged in replay batches (each counted once) */
  replayed: number;
  /** CONNACKs that refused the connection (bad credentials, not authorised) */
  refused: number;
  /** TLS errors because the broker's certificate did not verify (an attempt may report more than one) */
  untrusted: number;
  /** connections given up because a publish waited ackTimeoutMs for its PUBACK */
  ackTimeouts: number;
}

interface InFlight {
  crossings: HeldCrossing[];
  replay: boolean;
  duplicates: number;
  settle: () => void;
}

let defaultLog: Logger | undefined;

const CONNACK_REASONS: Record<number, string> = {
  1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
  4: "bad user name or password", 5: "not authorised",
};

/**
 * The firmware of one simulated DPU, speaking MQTT 3.1.1 to the edge broker.
 *
 * Connected, each crossing is published at QoS 1 as one JSON event. While offline (goOffline(),
 * or the connection is down) crossings are appended to a JSONL file instead; after (re)connecting
 * that buffer is replayed as {"events": [...]} batches in shuffled order, and a crossing leaves
 * the buffer only once its batch was PUBACKed. The file survives a restart: start() replays it.
 */
export class DpuFirmware {
  readonly counters: FirmwareCounters = { sent: 0, duplicatesSent: 0, buffered: 0, replayed: 0, refused: 0, untrusted: 0, ackTimeouts: 0 };
  readonly topic: string;
  private readonly buffer: CrossingBuffer;
  private readonly log: Logger;
  private readonly rng: Rng;
  private readonly skew: number;
  private readonly duplicateRate: number;
  private readonly batchSize: number;
  private readonly replayWindow: number;
  private readonly bootId = Date.now().toString(36);
  private readonly urls: string[];
  private seq = 0;

  private client: MqttClient | undefined;
  /** bumped whenever a client is abandoned: callbacks of older sessions are ignored */
  private session = 0;
  private offline = true;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;

  private tokenSeq = 0;
  private readonly inFlight = new Map<number, InFlight>();
  /** buffered crossings currently inside a replay batch awaiting its PUBACK */
  private readonly replaying = new Set<string>();
  private replayRunning = false;
  private replayAgain = false;
  private flushWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: DpuFirmwareOptions) {
    this.log = (opts.log ?? (defaultLog ??= createLogger("dpu-firmware"))).child({ device: opts.deviceId });
    this.topic = deviceTopic(opts.site, "dpu", opts.deviceId, "crossing");
    this.buffer = new CrossingBuffer(path.join(opts.dataDir, `${opts.deviceId}.buffer.jsonl`), this.log);
    this.rng = opts.rng ?? mulberry32(deriveSeed(0, opts.deviceId));
    this.skew = Math.round(opts.clockSkewMs ?? 0);
    this.duplicateRate = Math.min(1, Math.max(0, opts.duplicateRate ?? 0));
    this.batchSize = Math.min(MAX_BATCH_EVENTS, Math.max(1, Math.floor(opts.batchSize ?? 200)));
    this.replayWindow = Math.max(1, opts.replayWindow ?? 4);
    this.reconnectDelay = opts.reconnectMinMs ?? 100;
    this.urls = parseBrokerList(opts.url);
  }

  get deviceId(): string { return this.opts.deviceId; }

  /** The disk buffer file. */
  get bufferFile(): string { return this.buffer.file; }

  /** Crossings held on disk right now. */
  get bufferedNow(): number { return this.buffer.size; }

  /** True while connected to the broker and not taken offline. */
  get online(): boolean { return !this.offline && !this.stopped && this.client?.connected === true; }

  /**
   * Loads the disk buffer and connects. Resolves true once connected (a non-empty buffer is
   * then replayed), false when the first attempt failed (refused CONNACK, broker unreachable);
   * the firmware keeps retrying with exponential backoff either way.
   */
  async start(): Promise<boolean> {
    if (this.stopped) throw new Error(`firmware ${this.opts.deviceId} was stopped`);
    const held = this.buffer.load();
    if (held > 0) this.log.info({ held, file: this.buffer.file }, "disk buffer holds crossings from before the restart");
    this.offline = false;
    return this.connect();
  }

  /**
   * Records one crossing. Resolves once the broker acknowledged it (online) or it is in the
   * disk buffer (offline). Throws on a crossing that is not valid (naming the reason).
   */
  record(sensed: SensedCrossing): Promise<void> {
    if (this.stopped) return Promise.reject(new Error(`firmware ${this.opts.deviceId} was stopped`));
    const candidate = {
      id: sensed.id ?? `${this.bootId}-${++this.seq}`,
      ts: Math.round(sensed.ts + this.skew),
      doorway: sensed.doorway,
      delta: sensed.delta,
    };
    const checked = CrossingEvent.safeParse(candidate);
    if (!checked.success) {
      const reason = checked.error.issues.map((i) => `${i.path.join(".") || "crossing"}: ${i.message}`).join("; ");
      return Promise.reject(new Error(`invalid crossing for ${this.opts.deviceId}: ${reason}`));
    }
    const crossing: HeldCrossing = checked.data;
    if (!this.online) {
      this.hold([crossing]);
      return Promise.resolve();
    }
    const payload = JSON.stringify(crossing);
    const sends = [this.send([crossing], payload, false, 0)];
    if (chance(this.rng, this.duplicateRate)) sends.push(this.send([crossing], payload, false, 1));
    return Promise.all(sends).then(() => undefined);
  }

  /** Resolves once every recorded crossing was acknowledged: nothing buffered, nothing in flight. */
  flush(): Promise<void> {
    if (this.isFlushed()) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error(`firmware ${this.opts.deviceId} was stopped with crossings unsent`));
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  /**
   * Takes the device offline: new crossings go to the disk buffer at once; publishes already in
   * flight get up to graceMs for their PUBACK, then the connection is closed and whatever is
   * still unacknowledged is moved to the buffer (it may reach the broker twice: at least once).
   */
  async goOffline(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.offline || this.stopped) return;
    this.offline = true;
    this.log.info("going offline");
    await this.idle(opts.graceMs ?? 2000);
    this.closeSession();
  }

  /** Brings the device back online: connects, replays the buffer in bulk, then sends live. */
  async goOnline(): Promise<boolean> {
    if (this.stopped) throw new Error(`firmware ${this.opts.deviceId} was stopped`);
    if (!this.offline) return this.online;
    this.offline = false;
    this.log.info({ held: this.buffer.size }, "going online");
    return this.connect();
  }

  /** Closes the connection (after up to graceMs for in-flight PUBACKs); unsent crossings stay on disk. */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.offline = true;
    await this.idle(opts.graceMs ?? 1000);
    this.stopped = true;
    this.closeSession();
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    if (!this.isFlushed()) for (const w of waiters) w.reject(new Error(`firmware ${this.opts.deviceId} was stopped with crossings unsent`));
    else for (const w of waiters) w.resolve();
  }

  // ---- connection -------------------------------------------------------------------------

  private connect(): Promise<boolean> {
    const session = ++this.session;
    const client = connect(this.urls[0]!, {
      ...brokerServers(this.urls),
      clientId: this.opts.deviceId,
      username: this.opts.deviceId,
      password: this.opts.secret,
      clean: false,
      protocolVersion: 4,
      keepalive: 30,
      // reconnects are ours: exponential backoff (mqtt.js only knows a fixed period)
      reconnectPeriod: 0,
      connectTimeout: this.opts.connectTimeoutMs ?? 5000,
      // mqtts://: the broker's certificate must verify (against `ca`, else the system's roots)
      rejectUnauthorized: true,
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
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
      const firstOutcome = (ok: boolean) => { if (first) { first = false; resolve(ok); } };
      client.on("connect", () => {
        if (session !== this.session) return;
        this.reconnectDelay = this.opts.reconnectMinMs ?? 100;
        this.log.info({ held: this.buffer.size, broker: currentBroker(client) }, "connected");
        firstOutcome(true);
        this.replay();
      });
      client.on("error", (err: Error & { code?: unknown }) => {
        if (session !== this.session) return;
        if (typeof err.code === "number" && CONNACK_REASONS[err.code]) {
          this.counters.refused++;
          this.log.warn({ returnCode: err.code, reason: CONNACK_REASONS[err.code] }, "broker refused the connection");
        } else if (isCertificateError(err)) {
          this.counters.untrusted++;
          this.log.warn({ err, url: this.opts.url }, "the broker's TLS certificate did not verify: not connecting");
        } else {
          this.log.debug({ err }, "connection error");
        }
      });
      client.on("close", () => {
        if (session !== this.session) return;
        firstOutcome(false);
        this.retryLater(session);
      });
    });
  }

  private retryLater(session: number): void {
    if (this.offline || this.stopped || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(delay * 2, this.opts.reconnectMaxMs ?? 2000);
    this.log.debug({ delayMs: delay }, "reconnecting later");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const client = this.client;
      if (session !== this.session || this.offline || this.stopped || !client || client.connected) return;
      // keep the stores: QoS 1 publishes in flight are resent once the session is back
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delay);
  }

  /** Abandons the current client: unacknowledged live crossings go to the disk buffer. */
  private closeSession(): void {
    this.session++;
    if (this.reconnectTimer) { clearTimeout(this.reconnectTimer); this.reconnectTimer = undefined; }
    const moved: HeldCrossing[] = [];
    for (const f of this.inFlight.values()) if (!f.replay) moved.push(...f.crossings);
    const entries = [...this.inFlight.values()];
    this.inFlight.clear();
    this.replaying.clear();
    this.hold(moved);
    for (const f of entries) f.settle();
    this.client?.end(true);
    this.client = undefined;
    this.afterChange();
  }

  // ---- sending ----------------------------------------------------------------------------

  private hold(crossings: HeldCrossing[]): void {
    for (const c of crossings) if (this.buffer.add(c)) this.counters.buffered++;
  }

  private send(crossings: HeldCrossing[], payload: string, replay: boolean, duplicates: number): Promise<void> {
    const client = this.client;
    const token = ++this.tokenSeq;
    return new Promise((settle) => {
      this.inFlight.set(token, { crossings, replay, duplicates, settle });
      if (replay) for (const c of crossings) this.replaying.add(c.id);
      client!.publish(this.topic, payload, { qos: 1 }, (err) => {
        const f = this.inFlight.get(token);
        if (!f) return; // the session was closed; closeSession settled it
        this.inFlight.delete(token);
        if (f.replay) for (const c of f.crossings) this.replaying.delete(c.id);
        if (err) {
          this.log.debug({ err }, "publish failed; keeping the crossings");
          if (!f.replay) this.hold(f.crossings);
        } else {
          this.counters.sent += f.crossings.length;
          this.counters.duplicatesSent += f.duplicates;
          if (f.replay) this.counters.replayed += this.buffer.remove(f.crossings.map((c) => c.id));
          try { this.opts.onAcked?.(f.crossings); } catch (e) { this.log.warn({ err: e }, "onAcked threw"); }
        }
        settle();
        this.afterChange();
      });
    });
  }

  /** Sends the disk buffer in shuffled batches, at most replayWindow of them awaiting PUBACK. */
  private replay(): void {
    if (this.replayRunning) { this.replayAgain = true; return; }
    this.replayRunning = true;
    void (async () => {
      try {
        do {
          this.replayAgain = false;
          const session = this.session;
          const pending = this.buffer.crossings().filter((c) => !this.replaying.has(c.id));
          if (pending.length === 0) break;
          // second copies go in batches of their own: an id must not appear twice in one payload
          const originals = shuffle(this.rng, [...pending]);
          const seconds = originals.filter(() => chance(this.rng, this.duplicateRate));
          const batches: Array<{ crossings: HeldCrossing[]; duplicates: number }> = [];
          for (const [list, duplicate] of [[originals, false], [seconds, true]] as const) {
            for (let i = 0; i < list.length; i += this.batchSize) {
              const crossings = list.slice(i, i + this.batchSize);
              batches.push({ crossings, duplicates: duplicate ? crossings.length : 0 });
            }
          }
          this.log.info({ crossings: pending.length, batches: batches.length }, "replaying the disk buffer out of order");
          const open = new Set<Promise<void>>();
          for (const batch of batches) {
            while (open.size >= this.replayWindow) await Promise.race(open);
            if (!this.online || session !== this.session) break;
            const p = this.send(batch.crossings, JSON.stringify({ events: batch.crossings }), true, batch.duplicates);
            open.add(p);
            void p.then(() => open.delete(p));
          }
          await Promise.all(open);
        } while (this.replayAgain && this.online);
      } catch (e) {
        this.log.error({ err: e }, "replay failed");
      } finally {
        this.replayRunning = false;
      }
      // a crossing may have been buffered while the last round ran (connection lost and back)
      if (this.online && this.buffer.crossings().some((c) => !this.replaying.has(c.id))) this.replay();
    })();
  }

  // ---- waiting ----------------------------------------------------------------------------

  private isFlushed(): boolean { return this.buffer.size === 0 && this.inFlight.size === 0; }

  private afterChange(): void {
    if (this.inFlight.size === 0) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of idle) w();
    }
    if (this.isFlushed() && this.flushWaiters.length > 0) {
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  /** Waits until nothing is in flight, or at most ms. */
  private idle(ms: number): Promise<void> {
    if (this.inFlight.size === 0 || !this.client?.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.idleWaiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }
}
