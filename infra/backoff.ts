/**
 * Pacing of retries after a transient failure: exponential backoff with jitter. Retry 1 waits
 * about `baseMs`, each next one twice as long, never more than `maxMs`; the jitter takes a random
 * part (up to `jitter` of the delay) off, so many clients coming back after an outage do not all
 * retry in the same instant. A server's Retry-After raises the delay (still capped at maxMs).
 */
export interface BackoffPolicy {
  /** first delay */
  baseMs: number;
  /** longest delay */
  maxMs: number;
  /** share of the delay that is random, 0..1 (0.5: between half and the whole delay) */
  jitter: number;
}

/** The wait before retry number `attempt` (1 = the first retry). */
export function backoffDelay(attempt: number, p: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const exp = Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const jittered = exp * (1 - Math.min(1, Math.max(0, p.jitter)) * random());
  return Math.round(Math.min(p.maxMs, Math.max(jittered, retryAfterMs ?? 0)));
}

/** Retries against NATS and InfluxDB inside footfall's own processes: 50 ms doubling up to maxMs (attempt 0 = the first retry). */
export const backoffMs = (attempt: number, maxMs = 2000): number => backoffDelay(attempt + 1, { baseMs: 50, maxMs, jitter: 0.2 });

/** Resolves true after `ms`, or early with false when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => { clearTimeout(timer); resolve(false); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(true); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Waits ms on an unref'd timer: a pending retry never keeps the process alive on its own. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms).unref(); });
}
