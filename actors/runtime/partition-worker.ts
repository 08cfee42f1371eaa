import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { actorBodies } from "../../contracts/actor-batch.ts";
import { parseActorSubject } from "../../contracts/nats-layout.ts";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import type { InfluxWriter } from "./influx-writer.ts";
import type { Lease } from "./lease.ts";
import { LiveActor } from "./live-actor.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { Outbox } from "./outbox.ts";
import { PartitionFeed } from "./partition-feed.ts";
import { SideEffects } from "./side-effects.ts";
import { actorSnapshotKey, encodeJson, isValidKvKey, type SnapshotStore } from "./snapshot-store.ts";
import type { ActorBehavior, BehaviorRegistry, MessageMeta } from "./types.ts";
import { FencedError, type VersionedKey } from "./versioned-key.ts";

export interface PartitionWorkerOptions {
  partition: number;
  partitions: number;
  js: JetStreamClient;
  snapshots: SnapshotStore;
  writer: InfluxWriter;
  behaviors: BehaviorRegistry;
  lease: Lease;
  metrics: RuntimeMetrics;
  log: Logger;
  flushMs: number;
  checkpointMs: number;
  idleMs: number;
  /**
   * A changed actor's snapshot is written at most this often (0: at every checkpoint). Busy
   * actors with large states then cost one snapshot per interval instead of one per
   * checkpoint; the partition checkpoint stays below their first unsaved message, so a crash
   * replays a little more, which skipping by sequence makes harmless.
   */
  snapshotMs?: number;
  /**
   * Snapshot pacing by size (0: none): a changed actor's snapshot also waits until the actor has
   * handled at least (its last snapshot's bytes / this) messages, so an actor whose state has
   * grown large writes at most about this many snapshot bytes per message it handles, however
   * large the state. The partition checkpoint waits for it as for snapshotMs.
   */
  snapshotBytesPerMessage?: number;
  now: () => number;
  /** the worker found it no longer owns the partition (lease lapsed, a fenced write) */
  onLost: (partition: number, reason: string) => void;
  maxInFlight?: number;
  maxPayloadBytes?: number;
  snapshotConcurrency?: number;
}

/** Thrown inside the worker when it is being torn down while waiting on I/O. */
class Abandoned extends Error {}

const UNKNOWN_KIND = "unknown";
const utf8 = new TextDecoder();
const YIELD_EVERY_MS = 10;

/**
 * Consumes one partition for as long as the host holds its lease: messages strictly one at a
 * time in stream order, routed to the actor named by the subject; periodic flushes (behaviour
 * flush, publish acks, InfluxDB batch) and checkpoints (actor snapshots, then the partition
 * checkpoint, both fenced by compare-and-set); passivation of idle actors.
 */
export class PartitionWorker {
  readonly partition: number;
  private readonly actors = new Map<string, LiveActor>();
  /** the per-message metrics of each kind, their labels bound once */
  private readonly kindMetrics = new Map<string, { messages: { inc(): void }; processing: { observe(v: number): void } }>();
  private readonly outbox: Outbox;
  private readonly effects: SideEffects;
  private readonly log: Logger;
  private feed: PartitionFeed | undefined;
  private checkpointKey: VersionedKey | undefined;
  /** highest stream sequence handled (or skipped) in this partition */
  private handledSeq = 0;
  /** sequence of the last partition checkpoint written */
  private checkpointedSeq = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private checkpointRun: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private abandoned = false;
  /** resolves when the worker is told to stop or abandon (ends a wait for room in the InfluxDB writer) */
  private readonly halted: Promise<void>;
  private halt!: () => void;
  private ready = false;

  constructor(private readonly o: PartitionWorkerOptions) {
    this.partition = o.partition;
    this.halted = new Promise<void>((r) => { this.halt = r; });
    this.log = o.log.child({ partition: o.partition });
    this.outbox = new Outbox({ js: o.js, log: this.log, metrics: o.metrics, maxInFlight: o.maxInFlight ?? 1000 });
    this.effects = new SideEffects({ outbox: this.outbox, writer: o.writer, partitions: o.partitions, maxPayloadBytes: o.maxPayloadBytes ?? 1024 * 1024, owner: this });
  }

  /** Starts consuming from the partition checkpoint (in the background). */
  start(): void {
    this.loop = this.run().catch((e) => {
      if (e instanceof Abandoned || this.stopping) return;
      // last resort: the host drops the partition and takes it up again from its checkpoint
      this.log.error({ err: e }, "partition worker failed");
      this.o.onLost(this.partition, "worker failed");
    });
  }

  activeActors(): number { return this.actors.size; }
  position(): { handled: number; checkpointed: number } { return { handled: this.handledSeq, checkpointed: this.checkpointedSeq }; }
  depth(): number { return this.feed?.depth() ?? 0; }

  /**
   * Clean hand-over: stop consuming, flush, checkpoint. Returns false when the final checkpoint
   * could not be written (the next owner replays from the previous one).
   */
  async stop(): Promise<boolean> {
    if (this.abandoned) return false;
    this.stopping = true;
    this.halt();
    this.feed?.stop();
    this.clearTimers();
    await this.loop;
    this.clearTimers();
    await this.checkpointRun;
    let ok = !this.ready;
    for (let attempt = 0; this.ready && attempt < 5 && !this.abandoned; attempt++) {
      try {
        await this.checkpoint(true);
        ok = true;
        break;
      } catch (e) {
        if (e instanceof FencedError) break;
        this.log.warn({ err: e, attempt }, "final checkpoint failed; retrying");
        await pause(backoffMs(attempt + 3, 2000));
      }
    }
    this.dispose();
    return ok;
  }

  /** Lost the partition: stop at once, without flushing or checkpointing; forget all state. */
  async abandon(): Promise<void> {
    if (this.abandoned) return;
    this.abandoned = true;
    // another host replays this partition and writes its points: none of ours may land after them
    this.o.writer.discard(this);
    this.stopping = true;
    this.halt();
    this.feed?.stop();
    this.clearTimers();
    this.outbox.abandon();
    this.dispose();
    await this.loop;
    await this.checkpointRun;
  }

  private dispose(): void {
    for (const a of this.actors.values()) this.o.metrics.actorsActive.dec({ kind: a.kind });
    this.actors.clear();
    this.o.metrics.mailboxDepth.remove({ partition: String(this.partition) });
    this.outbox.abandon();
  }

  private clearTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Runs fn after everything queued before it: message handling, flushes and snapshot captures never interleave. */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.catch(() => {});
    return r;
  }

  /** Retries a NATS call through transient failures until it succeeds or the worker is torn down. */
  private async persist<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.abandoned || (this.stopping && attempt > 0)) throw new Abandoned(what);
      try {
        return await fn();
      } catch (e) {
        if (attempt === 0 || attempt % 10 === 0) this.log.warn({ err: e, attempt }, `${what} failed; retrying`);
        await pause(backoffMs(attempt, 2000));
      }
    }
  }

  private async run(): Promise<void> {
    const cp = await this.persist("reading the partition checkpoint", () => this.o.snapshots.loadCheckpoint(this.partition));
    this.checkpointKey = cp.key;
    this.handledSeq = cp.seq;
    this.checkpointedSeq = cp.seq;
    this.ready = true;
    if (this.stopping) return;
    this.log.info({ from: cp.seq }, "partition acquired; consuming");
    this.timers.push(setInterval(() => void this.flushTick(), this.o.flushMs));
    this.timers.push(setInterval(() => void this.checkpointTick(), this.o.checkpointMs));
    const feed = new PartitionFeed(this.o.js, this.partition, this.log, {
      onDivergence: () => this.o.metrics.divergences.inc(),
      onGap: () => this.o.metrics.deliveryGaps.inc(),
    });
    this.feed = feed;
    if (this.stopping) feed.stop();
    const gauge = { partition: String(this.partition) };
    let yieldedAt = performance.now();
    for await (const m of feed.messages(cp.seq)) {
      // buffered messages arrive as microtasks: yield to the event loop now and then, so lease
      // renewals and flush / checkpoint timers run on time even under a backlog
      if (performance.now() - yieldedAt > YIELD_EVERY_MS) {
        await new Promise((r) => setImmediate(r));
        yieldedAt = performance.now();
      }
      if (this.stopping) break;
      if (!this.o.lease.valid()) {
        this.o.onLost(this.partition, "lease could not be renewed in time");
        break;
      }
      try {
        await this.serial(() => this.handle(m));
      } catch (e) {
        if (e instanceof Abandoned) break;
        throw e;
      }
      if (this.stopping) break;
      this.o.metrics.mailboxDepth.set(gauge, feed.depth());
      await this.outbox.room();
      // back-pressure: with too many points waiting for InfluxDB, take no more messages
      // (the checkpoint cannot pass them anyway) until the backlog drains
      if (!this.o.writer.hasRoom()) {
        feed.hold(true);
        try { await Promise.race([this.o.writer.room(), this.halted]); } finally { feed.hold(false); }
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    // after the feed went back to where the stream's replicas disagreed (partition-feed.ts), messages
    // at or below what was handled come again: those handed out before are skipped, the others
    // (the ones the replica read before did not have) are applied whatever their sequence
    if (this.abandoned) return;
    const again = m.seq <= (this.feed?.realignedThrough() ?? 0);
    if (again && this.feed!.handedOutBefore(m)) {
      this.handledSeq = Math.max(this.handledSeq, m.seq);
      return;
    }
    if (m.seq <= this.handledSeq && !again) return;
    const addr = parseActorSubject(m.subject);
    const behavior = addr ? this.o.behaviors.get(addr.kind) : undefined;
    if (!addr || addr.partition !== this.partition || !behavior) {
      this.o.metrics.errors.inc({ kind: behavior ? addr!.kind : UNKNOWN_KIND });
      this.log.warn({ subject: m.subject, seq: m.seq }, addr ? (behavior ? "message on a foreign partition skipped" : "no behaviour for this kind; message skipped") : "not an actor subject; message skipped");
      this.handledSeq = Math.max(this.handledSeq, m.seq);
      return;
    }
    const { kind, id } = addr;
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(m.data));
    } catch {
      this.o.metrics.errors.inc({ kind });
      this.log.warn({ kind, id, seq: m.seq }, "message body is not JSON; skipped");
      this.handledSeq = Math.max(this.handledSeq, m.seq);
      return;
    }
    let actor: LiveActor | undefined;
    try {
      actor = await this.actor(kind, id, behavior);
    } catch (e) {
      if (e instanceof Abandoned) throw e;
      this.log.error({ kind, id, seq: m.seq, err: e }, "actor could not be created; message skipped");
    }
    if (!actor) {
      this.o.metrics.errors.inc({ kind });
      this.handledSeq = Math.max(this.handledSeq, m.seq);
      return;
    }
    if (m.seq <= actor.seq && !again) {
      this.o.metrics.skipped.inc({ kind });
      this.handledSeq = Math.max(this.handledSeq, m.seq);
      return;
    }
    const meta: MessageMeta = { seq: m.seq, subject: m.subject, publishedAt: Math.floor(m.info.timestampNanos / 1e6) };
    const counted = this.perKind(kind);
    // a batch (contracts/actor-batch.ts) is its items in order, handled as this one message
    const bodies = actorBodies(body);
    for (let i = 0; i < bodies.length; i++) {
      const started = performance.now();
      try {
        await behavior.handle(actor.state, bodies[i], actor, meta);
        counted.messages.inc();
      } catch (e) {
        this.o.metrics.errors.inc({ kind });
        this.log.error({ kind, id, seq: m.seq, ...(bodies.length > 1 ? { item: i } : {}), err: e }, "actor failed to handle a message; skipped");
      } finally {
        counted.processing.observe((performance.now() - started) / 1000);
      }
    }
    actor.seq = Math.max(actor.seq, m.seq);
    actor.firstUnsavedSeq ??= m.seq;
    actor.handledSinceSave += bodies.length;
    actor.version++;
    actor.needsFlush = true;
    actor.lastActive = performance.now();
    this.handledSeq = Math.max(this.handledSeq, m.seq);
  }

  private perKind(kind: string) {
    let k = this.kindMetrics.get(kind);
    if (!k) this.kindMetrics.set(kind, k = { messages: this.o.metrics.messages.labels({ kind }), processing: this.o.metrics.processing.labels({ kind }) });
    return k;
  }

  /** The actor in memory, or loaded from its snapshot (or fresh). undefined if its id cannot be stored. */
  private async actor(kind: string, id: string, behavior: ActorBehavior<any>): Promise<LiveActor | undefined> {
    const mapKey = `${kind}.${id}`;
    const known = this.actors.get(mapKey);
    if (known) return known;
    if (!isValidKvKey(actorSnapshotKey(kind, id))) {
      this.log.warn({ kind, id }, "actor id cannot name a snapshot key; message skipped");
      return undefined;
    }
    const snap = await this.persist(`loading the snapshot of ${kind}.${id}`, () => this.o.snapshots.loadActor(kind, id));
    if (this.abandoned) throw new Abandoned("loading an actor");
    let state: unknown;
    if (snap.state === undefined && snap.seq === 0) {
      state = behavior.initialState(id);
    } else {
      try {
        state = behavior.decode ? behavior.decode(snap.state, id) : snap.state;
      } catch (e) {
        this.o.metrics.errors.inc({ kind });
        this.log.error({ kind, id, err: e }, "actor snapshot could not be decoded; starting from the initial state");
        state = behavior.initialState(id);
      }
    }
    const actor = new LiveActor(kind, id, behavior, state, snap.seq, snap.key, this.effects, this.log, this.o.now);
    this.actors.set(mapKey, actor);
    this.o.metrics.actorsActive.inc({ kind });
    return actor;
  }

  /** behaviour.flush for actors that handled messages since the last flush (or want one). Runs inside serial(). */
  private async flushActors(): Promise<void> {
    for (const a of this.actors.values()) {
      if (!a.needsFlush && !a.behavior.wantsFlush?.(a.state)) continue;
      a.needsFlush = false;
      if (!a.behavior.flush) continue;
      try {
        await a.behavior.flush(a.state, a);
      } catch (e) {
        this.o.metrics.errors.inc({ kind: a.kind });
        this.log.error({ kind: a.kind, id: a.id, err: e }, "actor flush failed");
      }
      a.version++;
    }
  }

  private async flushTick(): Promise<void> {
    if (this.stopping || !this.ready) return;
    try {
      await this.serial(() => this.flushActors());
      this.o.writer.flush().catch(() => {});
    } catch (e) {
      this.log.warn({ err: e }, "flush failed");
    }
  }

  private async checkpointTick(): Promise<void> {
    if (this.stopping || !this.ready || this.checkpointRun) return;
    try {
      await this.checkpoint();
    } catch (e) {
      if (e instanceof FencedError) {
        this.o.onLost(this.partition, `fenced: ${e.message}`);
      } else if (!(e instanceof Abandoned) && !this.abandoned) {
        this.o.metrics.checkpoints.inc({ outcome: "failed" });
        this.log.warn({ err: e }, "checkpoint failed; will retry");
      }
    }
  }

  /**
   * Flush, then (outside the serial section, while messages keep flowing) wait for the side
   * effects to be durable, write the changed actors' snapshots, then the partition checkpoint.
   * all: every changed actor's snapshot now (the final checkpoint of a clean stop).
   */
  checkpoint(all = false): Promise<void> {
    if (this.checkpointRun) return this.checkpointRun;
    const run = this.checkpointOnce(all).finally(() => { this.checkpointRun = undefined; });
    this.checkpointRun = run.catch(() => {});
    return run;
  }

  /** all: snapshot every changed actor now (a clean stop or hand-over), whatever snapshotMs says */
  private async checkpointOnce(all = false): Promise<void> {
    const cut = await this.serial(async () => {
      await this.flushActors();
      const changed: { actor: LiveActor; version: number; seq: number; handled: number; value: Uint8Array }[] = [];
      const now = performance.now();
      const idleBefore = now - this.o.idleMs;
      const perMessage = this.o.snapshotBytesPerMessage ?? 0;
      // the checkpoint may not pass the first unsaved message of an actor left for later
      let seq = this.handledSeq;
      for (const a of this.actors.values()) {
        if (a.version === a.savedVersion) continue;
        const due = all || a.lastActive < idleBefore
          || (now - a.savedAt >= (this.o.snapshotMs ?? 0) && (perMessage <= 0 || a.handledSinceSave * perMessage >= a.savedBytes));
        if (due) changed.push({ actor: a, version: a.version, seq: a.seq, handled: a.handledSinceSave, value: encodeJson(a.snapshot()) });
        else if (a.firstUnsavedSeq !== undefined) seq = Math.min(seq, a.firstUnsavedSeq - 1);
      }
      return { seq, changed, published: this.outbox.flush(), written: this.o.writer.flush() };
    });
    // 1. side effects durable
    await cut.published;
    await cut.written;
    if (this.abandoned) throw new Abandoned("checkpoint");
    // 2. actor snapshots
    // (every write settles before the checkpoint ends: two writes of one key must never overlap)
    const queue = [...cut.changed];
    let failure: unknown;
    const writers = Array.from({ length: Math.min(queue.length, this.o.snapshotConcurrency ?? 32) }, async () => {
      for (let item = queue.shift(); item && failure === undefined && !this.abandoned; item = queue.shift()) {
        try {
          await item.actor.snapshotKey.write(item.value);
          const a = item.actor;
          if (item.version > a.savedVersion) a.savedVersion = item.version;
          a.savedAt = performance.now();
          a.savedBytes = item.value.length;
          a.handledSinceSave = Math.max(0, a.handledSinceSave - item.handled);
          // messages handled while the snapshot was being written are not in it
          a.firstUnsavedSeq = a.seq > item.seq ? item.seq + 1 : undefined;
        } catch (e) {
          failure ??= e;
        }
      }
    });
    await Promise.all(writers);
    if (failure !== undefined) throw failure;
    if (this.abandoned) throw new Abandoned("checkpoint");
    // 3. the partition checkpoint (the fence: fails if another host wrote it)
    if (cut.seq > this.checkpointedSeq && this.checkpointKey) {
      if (this.abandoned) throw new Abandoned("checkpoint");
      await this.checkpointKey.write(encodeJson({ seq: cut.seq }));
      this.checkpointedSeq = cut.seq;
    }
    this.o.metrics.checkpoints.inc({ outcome: "written" });
    // passivation: idle actors whose state is safely in their snapshot leave memory
    await this.serial(() => {
      const idleBefore = performance.now() - this.o.idleMs;
      for (const [k, a] of this.actors) {
        if (a.lastActive < idleBefore && a.version === a.savedVersion && !a.needsFlush) {
          this.actors.delete(k);
          this.o.metrics.actorsActive.dec({ kind: a.kind });
        }
      }
    });
  }
}
