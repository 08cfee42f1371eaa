import type { IPoint } from "influx";
import type { Logger } from "../../infra/log.ts";
import type { SideEffects } from "./side-effects.ts";
import type { ActorBehavior, ActorContext, SendOptions } from "./types.ts";
import type { ActorSnapshotKey } from "./snapshot-key.ts";

/**
 * One actor in memory: its state, the last stream sequence folded into it, and the bookkeeping
 * for flushes, snapshots and passivation. It is also the actor's ActorContext.
 */
export class LiveActor implements ActorContext {
  /** bumped whenever the state may have changed (a handled message, a flush) */
  version = 0;
  /** the version the latest written snapshot holds */
  savedVersion = 0;
  /** handled a message since the last flush */
  needsFlush = false;
  /** performance.now() of the last message */
  lastActive: number;
  /** performance.now() of the last snapshot written (or of loading) */
  savedAt: number;
  /**
   * lowest stream sequence handled since the state the latest snapshot holds (undefined: none);
   * the partition checkpoint may not pass it until a newer snapshot is written
   */
  firstUnsavedSeq: number | undefined;
  /** size of the latest written snapshot (bytes; 0 before the first) */
  savedBytes = 0;
  /** messages handled since the state the latest written snapshot holds */
  handledSinceSave = 0;
  private childLog: Logger | undefined;

  constructor(
    readonly kind: string,
    readonly id: string,
    readonly behavior: ActorBehavior<any>,
    public state: unknown,
    /** stream sequence of the last message folded into the state */
    public seq: number,
    readonly snapshotKey: ActorSnapshotKey,
    private readonly effects: SideEffects,
    private readonly parentLog: Logger,
    private readonly clock: () => number,
  ) {
    this.lastActive = performance.now();
    this.savedAt = this.lastActive;
  }

  get log(): Logger {
    this.childLog ??= this.parentLog.child({ kind: this.kind, id: this.id });
    return this.childLog;
  }

  send(kind: string, id: string, body: unknown, msgId: string, opts?: SendOptions): void { this.effects.send(kind, id, body, msgId, opts); }
  emit(subject: string, body: unknown, msgId: string): void { this.effects.emit(subject, body, msgId); }
  write(points: IPoint[]): void { this.effects.write(points); }
  now(): number { return this.clock(); }

  /** The snapshot value: {seq, state} with the behaviour's encoding. */
  snapshot(): { seq: number; state: unknown } {
    const state = this.behavior.encode ? this.behavior.encode(this.state) : this.state;
    return { seq: this.seq, state };
  }
}
