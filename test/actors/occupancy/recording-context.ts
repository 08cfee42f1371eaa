import type { IPoint } from "influx";
import type { ActorContext } from "../../../actors/runtime/types.ts";
import { createLogger } from "../../../infra/log.ts";

const silent = createLogger("occupancy-test", process.env.FOOTFALL_TEST_LOG ?? "silent");

export interface Sent { kind: string; id: string; body: unknown; msgId: string }
export interface Emitted { subject: string; body: unknown; msgId: string }

/** Our ActorContext, recording every side effect (a test double of our own interface, not of a service). */
export class RecordingContext implements ActorContext {
  sends: Sent[] = [];
  writes: IPoint[] = [];
  emits: Emitted[] = [];
  readonly log = silent;

  constructor(readonly kind: string, readonly id: string, private readonly clock: () => number = () => 1_700_000_000_000) {}

  send(kind: string, id: string, body: unknown, msgId: string): void { this.sends.push({ kind, id, body, msgId }); }
  write(points: IPoint[]): void { this.writes.push(...points); }
  emit(subject: string, body: unknown, msgId: string): void { this.emits.push({ subject, body, msgId }); }
  now(): number { return this.clock(); }

  /** Returns and forgets everything recorded so far. */
  take(): { sends: Sent[]; writes: IPoint[]; emits: Emitted[] } {
    const out = { sends: this.sends, writes: this.writes, emits: this.emits };
    this.sends = [];
    this.writes = [];
    this.emits = [];
    return out;
  }
}

export const meta = (seq = 1) => ({ seq, subject: "act.0.test", publishedAt: 0 });
