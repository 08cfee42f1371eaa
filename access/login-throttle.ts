import type { Registry } from "prom-client";
import type { Logger } from "../infra/log.ts";
import { counter } from "../infra/metrics.ts";
import { keyIdOf } from "./api-key.ts";
import { AuthThrottle, type Admission, type AuthThrottleConfig, type LoginAttempt } from "./auth-throttle.ts";

export type LoginSurface = "mqtt" | "http";

/**
 * AuthThrottle (auth-throttle.ts) as a login surface uses it: every delayed or refused attempt
 * counted in footfall_auth_throttled_total{surface, scope, outcome}, every ban logged with the
 * address that earned it. One per process and surface.
 */
export class LoginThrottle {
  private readonly throttle: AuthThrottle;
  private readonly throttled;

  constructor(
    cfg: AuthThrottleConfig,
    private readonly surface: LoginSurface,
    registry: Registry,
    private readonly log: Logger,
    now: () => number = Date.now,
  ) {
    this.throttle = new AuthThrottle(cfg, now);
    this.throttled = counter(registry, "footfall_auth_throttled_total",
      "login attempts delayed (outcome=delayed) or refused unchecked (outcome=banned) after failed logins, by surface and the scope (address, id) that throttled them",
      ["surface", "scope", "outcome"]);
  }

  admit(a: LoginAttempt): Admission {
    const admission = this.throttle.admit(a);
    if (admission.kind === "banned") {
      this.throttled.inc({ surface: this.surface, scope: admission.scope, outcome: "banned" });
    } else if (admission.delayMs > 0 && admission.scope) {
      this.throttled.inc({ surface: this.surface, scope: "address", outcome: "delayed" });
    }
    return admission;
  }

  /** Counts a wrong login; returns how long to wait before answering it (the id's delay). */
  failed(a: LoginAttempt): number {
    const { delayMs, banned } = this.throttle.failed(a);
    if (banned) this.log.warn({ surface: this.surface, address: a.address, id: a.id }, "address banned after repeated failed logins");
    if (delayMs > 0) this.throttled.inc({ surface: this.surface, scope: "id", outcome: "delayed" });
    return delayMs;
  }

  succeeded(a: LoginAttempt): void {
    this.throttle.succeeded(a);
  }

  /**
   * An API key presented from `address`, checked by `verify` through the throttle: a banned
   * address is refused unchecked (retryAfterS), a throttled one waits first, and a wrong key is
   * answered only after its id's delay. For surfaces that check a whole key at once (the wall,
   * the live feed); the REST routes go through the API's LoginGate.
   */
  async checkKey<T>(address: string | undefined, key: string, verify: (key: string) => T | undefined): Promise<{ retryAfterS: number } | { holder: T | undefined }> {
    const attempt: LoginAttempt = { address, id: keyIdOf(key)?.slice(0, 200) };
    const admission = this.admit(attempt);
    if (admission.kind === "banned") return { retryAfterS: Math.max(1, Math.ceil(admission.retryAfterMs / 1000)) };
    await wait(admission.delayMs);
    const holder = verify(key);
    if (holder !== undefined) this.succeeded(attempt);
    else await wait(this.failed(attempt));
    return { holder };
  }
}

/** Resolves after `ms` (0: at once, without a timer). */
export const wait = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());
