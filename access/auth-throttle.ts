/**
 * Failed logins, throttled (MQTT CONNECT, HTTP Bearer tokens, HTTP Basic of devices). Pure: the
 * caller gives the clock and does the waiting, refusing and counting.
 *
 * Two scopes are tracked, each by its own failure count:
 *   - "address": the remote address. Its failures first delay its next attempts before their
 *     credentials are checked (exponentially), then ban it for `banMs`: while banned, its attempts
 *     are refused without looking at the credentials.
 *   - "id": the device id or API key id the attempt names. Its failures delay the ANSWER to each
 *     further wrong attempt naming it (exponentially, at most `maxDelayMs`): a guesser waits that
 *     long for every "no". An id is never banned, and a right secret is answered at once: banning
 *     or delaying an id would let anyone who knows a device id lock that device out, or slow it,
 *     from anywhere. The trade-off: a guesser spread over many addresses, each below the ban, is
 *     slowed only by the per-id delay of the answers (and the secrets' entropy: 144 random bits
 *     for generated device secrets and API keys); the device itself is not slowed at all, unless
 *     it shares the attacker's address (NAT), where it shares the address's delay and ban.
 *
 * A success resets the counts of the address it came from and of the id it proved, never those of
 * other addresses. Counts are forgotten `banMs` after their last failure.
 */
export interface AuthThrottleConfig {
  /** failures of one address or id before its attempts are delayed */
  freeFailures: number;
  /** the first delay; each further failure doubles it (0: never delay) */
  delayMs: number;
  /** the longest delay */
  maxDelayMs: number;
  /** failures of one address after which it is banned (0: never ban) */
  banAfter: number;
  /** how long a ban lasts; also how long failures are remembered */
  banMs: number;
  /** most addresses and ids tracked at once; beyond, the oldest are forgotten (default 100 000) */
  maxEntries?: number;
}

export type ThrottleScope = "address" | "id";

/** Who attempts a login: the remote address and the device or key id named (either may be unknown). */
export interface LoginAttempt {
  address?: string | undefined;
  id?: string | undefined;
}

export type Admission =
  /** check the credentials after waiting delayMs (0: at once); a delay comes from the address's failures */
  | { kind: "check"; delayMs: number; scope?: "address" }
  /** refuse without checking: the address is banned for retryAfterMs more */
  | { kind: "banned"; retryAfterMs: number; scope: "address" };

interface Entry {
  failures: number;
  lastFailure: number;
  bannedUntil: number;
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(private readonly cfg: AuthThrottleConfig, private readonly now: () => number = Date.now) {
    this.maxEntries = cfg.maxEntries ?? 100_000;
  }

  /** What to do with an attempt before its credentials are checked. */
  admit(a: LoginAttempt): Admission {
    const now = this.now();
    const address = this.entry("address", a.address, now);
    if (address && address.bannedUntil > now) return { kind: "banned", retryAfterMs: address.bannedUntil - now, scope: "address" };
    const delayMs = this.delayOf(address);
    return delayMs === 0 ? { kind: "check", delayMs: 0 } : { kind: "check", delayMs, scope: "address" };
  }

  /**
   * The credentials were wrong: counted for the address and the id. `delayMs`: how long to wait
   * before answering this failure (the id's delay); `banned`: this failure started a ban of the address.
   */
  failed(a: LoginAttempt): { delayMs: number; banned: boolean } {
    const now = this.now();
    let banned = false;
    for (const [scope, value] of [["address", a.address], ["id", a.id]] as const) {
      if (value === undefined) continue;
      const key = keyOf(scope, value);
      const e = this.entry(scope, value, now) ?? { failures: 0, lastFailure: now, bannedUntil: 0 };
      e.failures++;
      e.lastFailure = now;
      if (scope === "address" && this.cfg.banAfter > 0 && e.failures >= this.cfg.banAfter && e.bannedUntil <= now) {
        e.bannedUntil = now + this.cfg.banMs;
        banned = true;
      }
      this.entries.delete(key); // re-inserted last: the map stays ordered by last failure
      this.entries.set(key, e);
    }
    this.trim(now);
    return { delayMs: this.delayOf(this.entry("id", a.id, now)), banned };
  }

  /**
   * The credentials were right: forget the failures of this address and this id (only these).
   * Returns whether any were remembered.
   */
  succeeded(a: LoginAttempt): boolean {
    let forgot = false;
    if (a.address !== undefined) {
      const e = this.entries.get(keyOf("address", a.address));
      // a banned address stays banned (its attempts are not even checked until the ban ends)
      if (e && e.bannedUntil <= this.now()) forgot = this.entries.delete(keyOf("address", a.address));
    }
    if (a.id !== undefined) forgot = this.entries.delete(keyOf("id", a.id)) || forgot;
    return forgot;
  }

  /** addresses and ids currently remembered */
  get size(): number {
    return this.entries.size;
  }

  private entry(scope: ThrottleScope, value: string | undefined, now: number): Entry | undefined {
    if (value === undefined) return undefined;
    const key = keyOf(scope, value);
    const e = this.entries.get(key);
    if (e && e.bannedUntil <= now && now - e.lastFailure >= this.cfg.banMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private delayOf(e: Entry | undefined): number {
    if (!e || this.cfg.delayMs <= 0) return 0;
    const over = e.failures - this.cfg.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.cfg.maxDelayMs, this.cfg.delayMs * 2 ** Math.min(over - 1, 30));
  }

  /** Drops expired entries from the oldest end, and the oldest beyond maxEntries. */
  private trim(now: number): void {
    for (const [key, e] of this.entries) {
      const expired = e.bannedUntil <= now && now - e.lastFailure >= this.cfg.banMs;
      if (!expired && this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}

const keyOf = (scope: ThrottleScope, value: string) => `${scope}:${value}`;

/** The throttle settings of a configuration (infra/config.ts FOOTFALL_AUTH_*). */
export function throttleConfigOf(cfg: {
  authFreeFailures: number; authDelayMs: number; authMaxDelayMs: number; authBanAfter: number; authBanS: number;
}): AuthThrottleConfig {
  return {
    freeFailures: cfg.authFreeFailures, delayMs: cfg.authDelayMs, maxDelayMs: cfg.authMaxDelayMs,
    banAfter: cfg.authBanAfter, banMs: cfg.authBanS * 1000,
  };
}
