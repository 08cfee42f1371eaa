/**
 * Retry pacing for chunk uploads: exponential backoff with jitter. Attempt 1 waits about
 * `baseMs`, each next one twice as long, never more than `maxMs`; the jitter takes a random part
 * (up to `jitter` of the delay) off, so many cameras coming back after an outage do not all
 * retry in the same instant. A server's Retry-After raises the delay (still capped at maxMs).
 */
export interface BackoffPolicy {
  /** first delay (default 500 ms) */
  baseMs: number;
  /** longest delay (default 30 s) */
  maxMs: number;
  /** share of the delay that is random, 0..1 (default 0.5: between half and the whole delay) */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, jitter: 0.5 };

/** The wait before retry number `attempt` (1 = the first retry). */
export function backoffDelay(attempt: number, p: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const exp = Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const jittered = exp * (1 - Math.min(1, Math.max(0, p.jitter)) * random());
  return Math.round(Math.min(p.maxMs, Math.max(jittered, retryAfterMs ?? 0)));
}

/** Resolves after `ms`, or early (false) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => { clearTimeout(timer); resolve(false); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(true); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
