import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Registry } from "prom-client";
import { LoginNews, loginNewsSubject } from "../contracts/login-news.ts";
import type { Logger } from "../infra/log.ts";
import { counter } from "../infra/metrics.ts";
import { safeJson } from "../infra/safe-json.ts";
import { keyIdOf } from "./api-key.ts";
import { AuthThrottle, type Admission, type AuthThrottleConfig, type LoginAttempt } from "./auth-throttle.ts";

export type LoginSurface = "mqtt" | "http";

/**
 * AuthThrottle (auth-throttle.ts) as a login surface uses it: every delayed or refused attempt
 * counted in footfall_auth_throttled_total{surface, scope, outcome}, every ban logged with the
 * address that earned it. One per process and surface; share() makes the processes of a surface
 * (several brokers, several API processes) count each other's failures and successes.
 */
export class LoginThrottle {
  private readonly throttle: AuthThrottle;
  private readonly throttled;
  private readonly shared;
  /** tells the other processes of this surface (set by share()) */
  private tell: ((outcome: LoginNews["outcome"], a: LoginAttempt) => void) | undefined;

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
    this.shared = counter(registry, "footfall_auth_shared_total",
      "failed and successful logins other processes of the same surface told this one about (and it counted as its own), by surface and outcome",
      ["surface", "outcome"]);
  }

  /**
   * Counts the failures and successes of every other process that shares over `nc` as this one's,
   * and tells them this one's: a guesser spread over several brokers (or API processes) is
   * delayed and banned as if every attempt had reached one. Plain NATS publishes, not stored: a
   * process started later knows only what happens from then on. Returns the function that stops.
   */
  share(nc: NatsConnection): () => void {
    const from = randomUUID();
    const subject = loginNewsSubject(this.surface);
    const sub = nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        const news = LoginNews.safeParse(safeJson(m.data));
        if (!news.success) {
          this.log.warn({ subject, reason: news.error.issues[0]?.message }, "malformed login news ignored");
          return;
        }
        if (news.data.from === from) return;
        const attempt: LoginAttempt = { address: news.data.address, id: news.data.id };
        if (news.data.outcome === "failed") this.throttle.failed(attempt);
        else this.throttle.succeeded(attempt);
        this.shared.inc({ surface: this.surface, outcome: news.data.outcome });
      },
    });
    this.tell = (outcome, a) => {
      const news: LoginNews = { from, outcome, ...(a.address !== undefined ? { address: a.address.slice(0, 200) } : {}), ...(a.id !== undefined ? { id: a.id.slice(0, 200) } : {}) };
      try {
        nc.publish(subject, JSON.stringify(news));
      } catch (e) {
        this.log.warn({ err: e }, "could not tell the other processes about a login"); // the local count still holds
      }
    };
    return () => {
      this.tell = undefined;
      sub.unsubscribe();
    };
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
    this.tell?.("failed", a);
    if (banned) this.log.warn({ surface: this.surface, address: a.address, id: a.id }, "address banned after repeated failed logins");
    if (delayMs > 0) this.throttled.inc({ surface: this.surface, scope: "id", outcome: "delayed" });
    return delayMs;
  }

  succeeded(a: LoginAttempt): void {
    // told only when it reset a count: the processes of a surface share their failures, so as a
    // rule they hold the same counts, and a success that reset nothing here resets nothing there
    if (this.throttle.succeeded(a)) this.tell?.("succeeded", a);
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
