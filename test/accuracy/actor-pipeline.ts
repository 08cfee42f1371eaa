import type { IPoint } from "influx";
import type { ActorBehavior, ActorContext, BehaviorRegistry } from "../../actors/runtime/types.ts";
import { createLogger } from "../../infra/log.ts";

const silent = createLogger("pipeline", process.env.FOOTFALL_TEST_LOG ?? "silent");

export interface PipelineEvent { subject: string; body: unknown; msgId: string }

interface Live { kind: string; id: string; behavior: ActorBehavior<any>; state: unknown; dirty: boolean; ctx: ActorContext }

/**
 * The camera pipeline's actors run in one process without NATS or InfluxDB, for fast accuracy
 * work: one FIFO queue plays FF_ACTORS (messages are handled in the order they were sent), an
 * overwrite-by-key map plays InfluxDB (same measurement + tags + time keeps the last fields), and
 * flush() is called every `flushEvery` handled messages, as the runtime does every FOOTFALL_FLUSH_MS.
 * Messages with a msgId seen before are dropped, like JetStream's duplicate window.
 * With `snapshotEvery`, every actor's state goes through encode -> JSON -> decode that often, as a
 * passivated or recovered actor's would. The real runtime is exercised by the e2e tests.
 */
export class ActorPipeline {
  readonly points = new Map<string, IPoint>();
  readonly events: PipelineEvent[] = [];
  private readonly actors = new Map<string, Live>();
  private readonly queue: Array<{ kind: string; id: string; body: unknown }> = [];
  private head = 0;
  private readonly seenIds = new Set<string>();
  private handled = 0;
  private clock = 0;

  constructor(private readonly behaviors: BehaviorRegistry, private readonly opts: { flushEvery?: number; snapshotEvery?: number } = {}) {}

  /** Queues a message as the broker would (msgId: JetStream de-duplication). */
  deliver(kind: string, id: string, body: unknown, msgId?: string): void {
    if (msgId !== undefined) {
      if (this.seenIds.has(msgId)) return;
      this.seenIds.add(msgId);
    }
    this.queue.push({ kind, id, body });
  }

  /** Sets the wall clock the actors see (ctx.now()). */
  setNow(ms: number): void { this.clock = ms; }

  /** Handles everything queued (and everything that causes), flushing as it goes and at the end until quiet. */
  async drain(): Promise<void> {
    const flushEvery = this.opts.flushEvery ?? 200;
    for (;;) {
      while (this.head < this.queue.length) {
        const m = this.queue[this.head++]!;
        const a = this.actor(m.kind, m.id);
        await a.behavior.handle(a.state, m.body, a.ctx, { seq: this.handled, subject: `act.0.${m.kind}.${m.id}`, publishedAt: this.clock });
        a.dirty = true;
        this.handled++;
        if (this.handled % flushEvery === 0) await this.flushAll();
        if (this.opts.snapshotEvery && this.handled % this.opts.snapshotEvery === 0) this.roundTripAll();
      }
      if (this.head > 100_000) { this.queue.splice(0, this.head); this.head = 0; }
      const before = this.queue.length - this.head;
      await this.flushAll();
      if (this.queue.length - this.head === before && before === 0) return;
    }
  }

  /** Points of a measurement (latest fields per series and time). */
  pointsOf(measurement: string): IPoint[] {
    return [...this.points.values()].filter((p) => p.measurement === measurement);
  }

  stateOf<S>(kind: string, id: string): S | undefined {
    return this.actors.get(`${kind}|${id}`)?.state as S | undefined;
  }

  private async flushAll(): Promise<void> {
    for (const a of this.actors.values()) {
      if (!a.dirty && !a.behavior.wantsFlush?.(a.state)) continue;
      a.dirty = false;
      await a.behavior.flush?.(a.state, a.ctx);
    }
  }

  private roundTripAll(): void {
    for (const a of this.actors.values()) {
      const raw = JSON.parse(JSON.stringify(a.behavior.encode ? a.behavior.encode(a.state) : a.state));
      a.state = a.behavior.decode ? a.behavior.decode(raw, a.id) : raw;
    }
  }

  private actor(kind: string, id: string): Live {
    const key = `${kind}|${id}`;
    let a = this.actors.get(key);
    if (a) return a;
    const behavior = this.behaviors.get(kind);
    if (!behavior) throw new Error(`no behaviour for actor kind ${kind}`);
    const pipeline = this;
    const ctx: ActorContext = {
      kind, id, log: silent,
      send(k, i, body, msgId) { pipeline.deliver(k, i, JSON.parse(JSON.stringify(body)), msgId); },
      write(points) {
        for (const p of points) {
          const tags = Object.entries(p.tags ?? {}).sort().map(([k, v]) => `${k}=${v}`).join(",");
          const key = `${p.measurement}|${tags}|${String(p.timestamp)}`;
          pipeline.points.set(key, p);
        }
      },
      emit(subject, body, msgId) {
        if (pipeline.seenIds.has(`evt:${msgId}`)) return;
        pipeline.seenIds.add(`evt:${msgId}`);
        pipeline.events.push({ subject, body, msgId });
      },
      now: () => pipeline.clock,
    };
    a = { kind, id, behavior, state: behavior.initialState(id), dirty: false, ctx };
    this.actors.set(key, a);
    return a;
  }
}
