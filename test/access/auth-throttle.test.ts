import { describe, expect, it } from "vitest";
import { AuthThrottle, type AuthThrottleConfig } from "../../access/auth-throttle.ts";

const CFG: AuthThrottleConfig = { freeFailures: 2, delayMs: 100, maxDelayMs: 1000, banAfter: 6, banMs: 60_000 };

/** A throttle on simulated time: no sleeps. */
function throttle(cfg: Partial<AuthThrottleConfig> = {}) {
  const t = { now: 1_000_000 };
  return { clock: t, throttle: new AuthThrottle({ ...CFG, ...cfg }, () => t.now) };
}

const attacker = { address: "203.0.113.9", id: "dpu-1" };
const device = { address: "198.51.100.7", id: "dpu-1" };

describe("AuthThrottle (simulated time)", () => {
  it("lets the first failures through, then doubles the delay up to the maximum", () => {
    const { throttle: t } = throttle({ banAfter: 0 });
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const a = t.admit(attacker);
      delays.push(a.kind === "check" ? a.delayMs : -1);
      t.failed(attacker);
    }
    expect(delays).toEqual([0, 0, 0, 100, 200, 400, 800, 1000]);
  });

  it("bans the address after banAfter failures, refusing even the right credentials, until the ban ends", () => {
    const { throttle: t, clock } = throttle();
    const started: boolean[] = [];
    for (let i = 0; i < CFG.banAfter; i++) started.push(t.failed(attacker).banned);
    expect(started).toEqual([false, false, false, false, false, true]);
    expect(t.admit(attacker)).toEqual({ kind: "banned", retryAfterMs: 60_000, scope: "address" });
    t.succeeded(attacker); // even if the check were run: a ban is not lifted by a success
    clock.now += 59_999;
    expect(t.admit(attacker)).toMatchObject({ kind: "banned", retryAfterMs: 1 });
    clock.now += 1;
    expect(t.admit(attacker)).toEqual({ kind: "check", delayMs: 0 });
  });

  it("delays the wrong answers for an attacked id from any address, never its right secret, and never bans it", () => {
    const { throttle: t } = throttle();
    const answers: number[] = [];
    for (let i = 0; i < 50; i++) answers.push(t.failed({ address: `203.0.113.${i}`, id: "dpu-1" }).delayMs);
    expect(answers.slice(0, 7)).toEqual([0, 0, 100, 200, 400, 800, 1000]);
    expect(answers.at(-1)).toBe(CFG.maxDelayMs);
    // no address reached the ban; the device from its own address is checked at once
    expect(t.admit(device)).toEqual({ kind: "check", delayMs: 0 });
    // a guess from yet another address: checked at once too, but its wrong answer waits
    expect(t.admit({ address: "192.0.2.1", id: "dpu-1" })).toEqual({ kind: "check", delayMs: 0 });
    expect(t.failed({ address: "192.0.2.1", id: "dpu-1" }).delayMs).toBe(CFG.maxDelayMs);
    // the device logs in: its id's failures are forgotten
    t.succeeded(device);
    expect(t.failed({ address: "192.0.2.2", id: "dpu-1" }).delayMs).toBe(0);
  });

  it("the attacker's own address is banned while the device from another address is not", () => {
    const { throttle: t } = throttle();
    for (let i = 0; i < 50; i++) t.failed(attacker);
    expect(t.admit(attacker).kind).toBe("banned");
    expect(t.admit(device)).toEqual({ kind: "check", delayMs: 0 });
    t.succeeded(device);
    expect(t.admit(attacker).kind).toBe("banned");
  });

  it("a success resets its own address, never another address's count", () => {
    const { throttle: t } = throttle({ banAfter: 0 });
    const a = { address: "10.0.0.1" }, b = { address: "10.0.0.2" };
    for (let i = 0; i < 4; i++) { t.failed(a); t.failed(b); }
    t.succeeded(b);
    expect(t.admit(b)).toEqual({ kind: "check", delayMs: 0 });
    expect(t.admit(a)).toEqual({ kind: "check", delayMs: 200, scope: "address" });
  });

  it("forgets failures banMs after the last one, and bounds what it remembers", () => {
    const { throttle: t, clock } = throttle({ maxEntries: 10 });
    for (let i = 0; i < 4; i++) t.failed(attacker);
    clock.now += CFG.banMs - 1;
    expect(t.admit(attacker)).toMatchObject({ kind: "check", delayMs: 200 });
    clock.now += 1;
    expect(t.admit(attacker)).toEqual({ kind: "check", delayMs: 0 });
    for (let i = 0; i < 100; i++) t.failed({ address: `10.0.1.${i}` });
    expect(t.size).toBeLessThanOrEqual(10);
  });

  it("with delayMs 0 and banAfter 0 never throttles", () => {
    const { throttle: t } = throttle({ delayMs: 0, banAfter: 0 });
    for (let i = 0; i < 1000; i++) t.failed(attacker);
    expect(t.admit(attacker)).toEqual({ kind: "check", delayMs: 0 });
  });
});
