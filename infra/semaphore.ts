/**
 * A counting semaphore: at most `limit` holders at once, waiters served first come, first
 * served. The broker bounds its outstanding JetStream publishes with one, the camera agent its
 * chunk hashing and ffprobe processes.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a semaphore's limit must be a positive integer, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot straight to the oldest waiter, if any. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs fn holding one slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try { return await fn(); } finally { this.release(); }
  }
}

/** Runs a task under some bound (a Semaphore's run), or at once. */
export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/** `sem.run` as a plain function. */
export const limitOf = (sem: Semaphore): Limit => (fn) => sem.run(fn);
