/** Reconnect delays (pure): exponential from initialMs up to maxMs, with jitter so many walls do not reconnect in step. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** each delay is scaled by a factor in [1 - jitter, 1 + jitter] */
  jitter: number;
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2, random: Math.random };

export class Backoff {
  private n = 0;
  private readonly o: BackoffOptions;
  constructor(o: Partial<BackoffOptions> = {}) {
    this.o = { ...DEFAULT_BACKOFF, ...o };
  }

  /** The delay before the next attempt. */
  next(): number {
    const base = Math.min(this.o.maxMs, this.o.initialMs * this.o.factor ** this.n);
    this.n++;
    const j = 1 + this.o.jitter * (2 * this.o.random() - 1);
    return Math.round(Math.min(this.o.maxMs, base * j));
  }

  /** After a connection that worked: start again from initialMs. */
  reset(): void {
    this.n = 0;
  }

  get attempts(): number {
    return this.n;
  }
}
