import type { Client, PublishPacket } from "aedes";
import type { Logger } from "../infra/log.ts";
import type { BrokerMetrics } from "./broker-metrics.ts";

/** aedes' authorizePublish callback: null lets the publish through, an error closes the connection. */
export type PublishDone = (err?: Error | null) => void;

/** One accepted device publish on its way into JetStream. */
export interface StoreJob<R> {
  /** the topic type (label of footfall_broker_publishes_accepted_total) */
  type: string;
  /** "after-store": acknowledged only once stored; "at-once": acknowledged now, stored best effort */
  ack: "after-store" | "at-once";
  device: string;
  /** what the log lines say about the message (event count, sequence number) */
  fields?: Record<string, unknown> | undefined;
  store(): Promise<R>;
  /** counts what was stored, before the device is acknowledged */
  stored?(result: R): void;
}

/**
 * What happens to one device publish, decided once (by authorizePublish, after its checks). Each
 * settles the publish's place in its connection's acknowledgement order.
 */
export interface Ticket {
  /** the publish's QoS as the device sent it */
  readonly qos: number;
  /** acknowledged without a store (a refused publish, dropped; or a type that is not stored) */
  accept(): void;
  /** refused with the connection: closed without acknowledging this publish or any later one (the device resends) */
  close(reason: string): void;
  /** stored in JetStream, acknowledged as job.ack says */
  store<R>(job: StoreJob<R>): void;
}

/** A QoS 1 publish's place in its connection's PUBACK order. */
interface Slot { id: number; state: 0 | 1 | 2 }
const WAITING = 0, READY = 1, FAILED = 2;

/** What the broker keeps per device connection. */
class Connection {
  /** QoS 1 publishes in receive order from `head` on, each waiting for its PUBACK */
  slots: Slot[] = [];
  head = 0;
  /** stores begun and not yet finished */
  storing = 0;
  /** publishes read while `storing` was at the bound: decided in order as stores finish */
  waiting: PublishTicket[] = [];
  /** closed (by the device, or by the broker after a failed store): nothing more is written */
  gone = false;
  /** a 'drain' listener is set (the socket's buffer was full) */
  drainHooked = false;
  /** packet ids whose PUBACKs are due, written together at the end of this turn */
  due: number[] = [];
  constructor(readonly client: Client) {}
}

/**
 * MQTT PUBACKs of these packet ids, in this order, in one buffer (MQTT 3.1.1 §3.4: type 4, flags
 * 0, remaining length 2, the packet id; the same bytes are a successful PUBACK in MQTT 5).
 */
export function pubacks(ids: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(ids.length * 4);
  for (let i = 0; i < ids.length; i++) {
    b[i * 4] = 0x40;
    b[i * 4 + 1] = 2;
    b.writeUInt16BE(ids[i]!, i * 4 + 2);
  }
  return b;
}

/** A publish's ticket (see Ticket). */
class PublishTicket implements Ticket {
  constructor(
    private readonly acks: AckAfterStore,
    private readonly conn: Connection,
    readonly packet: PublishPacket,
    readonly qos: number,
    private readonly slot: Slot | undefined,
    private readonly done: PublishDone,
  ) {}

  get client(): Client { return this.conn.client; }

  accept(): void {
    if (this.slot) this.acks.settle(this.conn, this.slot, READY);
    this.done(null);
  }

  close(reason: string): void {
    const conn = this.conn;
    if (this.slot) this.acks.settle(conn, this.slot, FAILED);
    else if (conn.storing === 0 && conn.slots.length === conn.head) return this.done(new Error(reason));
    else {
      // QoS 0 or 2: closed in order all the same, once the PUBACKs before it are out
      const marker: Slot = { id: 0, state: FAILED };
      conn.slots.push(marker);
      this.acks.settle(conn, marker, FAILED);
    }
    this.done(null);
  }

  store<R>(job: StoreJob<R>): void {
    this.acks.store(this.conn, job, this.qos, this.slot, this.done);
  }
}

/**
 * Writes the connection's due PUBACKs in one socket write: the stores JetStream confirmed in one
 * of its answers' reads become due in the same turn, and leave together (one system call).
 */
function writeDue(conn: Connection): void {
  if (conn.due.length === 0) return;
  const ids = conn.due;
  conn.due = [];
  const client = conn.client;
  if (!conn.gone && client.connected && !client.closed) client.conn.write(pubacks(ids));
}

/**
 * Where a device publish waits for JetStream, and where its acknowledgement is written.
 *
 * aedes handles the packets of one socket read together and reads the next only once every one
 * has been called back by authorizePublish. Calling back only after JetStream stored a publish
 * would tie each connection to the JetStream round trip (one read's worth of publishes per round
 * trip). So the broker takes a QoS 1 publish's acknowledgement over from aedes: authorizePublish
 * begins the store and calls back at once, with the publish turned to QoS 0 for aedes (which then
 * writes no PUBACK of its own), and the broker writes the PUBACK itself once JetStream stored the
 * message and every publish the connection sent before it is acknowledged too: PUBACKs leave in
 * the order the publishes arrived (MQTT 3.1.1 §4.6), those that became due together in one write.
 *
 * - A publish JetStream did not store gets no PUBACK: once those before it are acknowledged, the
 *   connection is closed, so neither it nor any later publish of that connection is acknowledged;
 *   the device sends them again (Nats-Msg-Id de-duplicates what was stored meanwhile).
 * - At most `maxPerConnection` stores are in flight per connection. A publish read beyond that
 *   waits, uncalled-back, for one to finish, so aedes stops reading that socket (back-pressure:
 *   the device's next publishes wait in its own socket). Likewise while the socket does not take
 *   the PUBACKs written (its buffer is full) until it drains.
 * - QoS 0 is stored the same way and called back at once; there is nothing to acknowledge, and
 *   one JetStream did not store is logged as lost. QoS 2 is called back only once stored (aedes
 *   then stores it for PUBREL and sends PUBREC), as before.
 * - "at-once" types (heartbeats) and dropped publishes are acknowledged in the same order, at once
 *   if nothing before them waits.
 * Every store and waiting publish is tracked, so that a clean close lets them finish first.
 */
export class AckAfterStore {
  private readonly connections = new WeakMap<Client, Connection>();
  private storing = 0;
  private waiting = 0;
  private idle: Array<() => void> = [];
  /** footfall_broker_publishes_accepted_total{type} by type, bound once (no label hashing per message) */
  private readonly acceptedOf = new Map<string, { inc(): void }>();

  /**
   * `decide` reads and checks each device publish once its connection has room for a store (in
   * receive order) and settles its ticket: accept(), close() or store().
   */
  constructor(
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
    private readonly maxPerConnection: number,
    private readonly decide: (client: Client, packet: PublishPacket, ticket: Ticket) => void,
  ) {
    if (!Number.isInteger(maxPerConnection) || maxPerConnection < 1) throw new RangeError(`stores in flight per connection must be a positive integer, got ${maxPerConnection}`);
  }

  /** JetStream stores of device publishes in flight, over all connections. */
  get inFlight(): number { return this.storing; }

  /** Publishes read and waiting for their connection to have room for a store. */
  get queued(): number { return this.waiting; }

  /**
   * A device publish arrived (authorizePublish, in receive order): `decide` is given its ticket
   * once its connection has room for a store (now, or when one finishes). `done` is aedes'
   * callback; the ticket calls it.
   */
  receive(client: Client, packet: PublishPacket, done: PublishDone): void {
    const conn = this.connectionOf(client);
    const qos = packet.qos;
    // a last will (published by aedes once the connection is gone): nothing to acknowledge or hold back
    if (conn.gone || client.closed) return this.decide(client, packet, new PublishTicket(this, conn, packet, qos, undefined, done));
    let slot: Slot | undefined;
    if (qos === 1) {
      slot = { id: packet.messageId!, state: WAITING };
      conn.slots.push(slot);
      (packet as { qos: number }).qos = 0; // the broker writes this PUBACK itself (see above)
    }
    const ticket = new PublishTicket(this, conn, packet, qos, slot, done);
    if (conn.waiting.length === 0 && this.hasRoom(conn)) return this.decide(client, packet, ticket);
    if (conn.waiting.length === 0) this.metrics.readsPaused.inc();
    conn.waiting.push(ticket);
    this.waiting++;
  }

  /** Resolves once every store begun and every publish waiting so far, and any begun meanwhile, has finished. */
  settled(): Promise<void> {
    if (this.storing + this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private connectionOf(client: Client): Connection {
    let conn = this.connections.get(client);
    if (!conn) {
      const c = conn = new Connection(client);
      this.connections.set(client, c);
      client.conn.once("close", () => this.gone(c));
    }
    return conn;
  }

  private hasRoom(conn: Connection): boolean {
    if (conn.storing >= this.maxPerConnection) return false;
    const socket = conn.client.conn as { writableNeedDrain?: boolean; once(e: "drain", f: () => void): unknown };
    if (!socket.writableNeedDrain) return true;
    if (!conn.drainHooked) {
      conn.drainHooked = true;
      socket.once("drain", () => { conn.drainHooked = false; this.pump(conn); });
    }
    return false;
  }

  /** Stores the job; the publish is acknowledged (or its connection closed) as job.ack says (for PublishTicket). */
  store<R>(conn: Connection, job: StoreJob<R>, qos: number, slot: Slot | undefined, done: PublishDone): void {
    const afterStore = job.ack === "after-store";
    const started = afterStore ? performance.now() : 0;
    const accepted = this.accepted(job.type);
    if (!afterStore) {
      accepted.inc();
      if (slot) this.settle(conn, slot, READY);
    }
    if (!afterStore || qos < 2) done(null); // reading goes on; the PUBACK waits in the slot
    this.storing++;
    conn.storing++;
    job.store().then(
      (result) => {
        try {
          if (afterStore) {
            this.metrics.bridgeLatency.observe((performance.now() - started) / 1000);
            accepted.inc();
          }
          job.stored?.(result);
          if (this.log.isLevelEnabled("debug")) this.log.debug({ device: job.device, type: job.type, qos, ...job.fields }, "publish stored");
          if (afterStore) {
            if (slot) this.settle(conn, slot, READY);
            else if (qos === 2) done(null); // aedes stores it for PUBREL and sends PUBREC
          }
        } finally {
          this.finished(conn);
        }
      },
      (err: unknown) => {
        try {
          this.metrics.bridgeFailures.inc();
          const about = { device: job.device, clientId: conn.client.id, type: job.type, qos, ...job.fields, err };
          if (!afterStore) this.log.warn(about, "best-effort publish not stored: jetstream did not confirm");
          else if (qos === 0) this.log.warn(about, "qos 0 publish lost: jetstream did not confirm");
          else {
            this.log.warn(about, "publish not acknowledged: jetstream did not confirm");
            if (slot) this.settle(conn, slot, FAILED);
            else if (qos === 2) done(new Error(`not stored: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
          }
        } finally {
          this.finished(conn);
        }
      },
    );
  }

  /**
   * The slot's outcome is known: write the PUBACKs now due, in receive order, up to the first
   * publish still being stored; at a failed one, close the connection instead of going on
   * (for PublishTicket).
   */
  settle(conn: Connection, slot: Slot, state: 1 | 2): void {
    slot.state = state;
    if (conn.gone) return;
    const slots = conn.slots;
    if (slots[conn.head] !== slot) return; // an earlier publish is still being stored
    let i = conn.head;
    let failed = false;
    while (i < slots.length) {
      const s = slots[i]!;
      if (s.state === WAITING) break;
      if (s.state === FAILED) { failed = true; break; }
      i++;
    }
    if (i > conn.head) {
      if (conn.due.length === 0) process.nextTick(writeDue, conn);
      for (let k = conn.head; k < i; k++) conn.due.push(slots[k]!.id);
    }
    if (i === slots.length) {
      conn.slots = [];
      conn.head = 0;
    } else {
      conn.head = i;
      if (i > 1024) { conn.slots = slots.slice(i); conn.head = 0; }
    }
    if (failed) {
      writeDue(conn);
      this.gone(conn);
      conn.client.close();
    }
  }

  /** The connection closed: nothing more is written to it, and what waited for room is dropped. */
  private gone(conn: Connection): void {
    if (conn.gone) return;
    conn.gone = true;
    conn.slots = [];
    conn.head = 0;
    this.waiting -= conn.waiting.length;
    conn.waiting = [];
    this.maybeIdle();
  }

  /** Publishes that waited for room start, in order, while there is room. */
  private pump(conn: Connection): void {
    while (conn.waiting.length > 0 && !conn.gone && this.hasRoom(conn)) {
      const ticket = conn.waiting.shift()!;
      this.waiting--;
      this.decide(ticket.client, ticket.packet, ticket);
    }
  }

  private accepted(type: string): { inc(): void } {
    let c = this.acceptedOf.get(type);
    if (!c) this.acceptedOf.set(type, c = this.metrics.accepted.labels({ type }));
    return c;
  }

  private finished(conn: Connection): void {
    this.storing--;
    conn.storing--;
    if (conn.waiting.length > 0) this.pump(conn);
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.storing + this.waiting > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
