/**
 * A concurrency limit: `limit(fn)` runs fn when fewer than n calls are running, else queues it
 * (first come, first served). The agent bounds its chunk hashing and ffprobe processes with one.
 */
export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

export function concurrencyLimit(n: number): Limit {
  const max = Math.max(1, n);
  const waiting: (() => void)[] = [];
  let running = 0;
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
