/** Pacing of retries after a transient failure: 50 ms doubling up to maxMs, with a little jitter. */
export function backoffMs(attempt: number, maxMs = 2000): number {
  const base = Math.min(maxMs, 50 * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Waits ms (an unref'd timer: a pending retry never keeps the process alive on its own). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms).unref(); });
}
