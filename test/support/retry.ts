/** Calls fn until it resolves (or timeoutMs passes, then rethrows its last error). For calls racing a service restart. */
export async function retry<T>(fn: () => Promise<T>, timeoutMs = 20_000, pauseMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { return await fn(); } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

/** Polls until check() returns true; throws with `what` after timeoutMs. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, pauseMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try { if (await check()) return; } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Sends again while the answer is 503 ("try again": a store electing a leader), for up to timeoutMs. */
export async function whileUnavailable(send: () => Promise<Response>, timeoutMs = 60_000, pauseMs = 1000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let r = await send();
  while (r.status === 503 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, pauseMs));
    r = await send();
  }
  return r;
}
