import { describe, expect, it } from "vitest";
import { generateKey, hashKey, keyMatches, sameSecret } from "../../access/api-key.ts";
import { sameFingerprint } from "../../topology/devices/device-secret.ts";

/**
 * Secret checks compare in constant time (node:crypto timingSafeEqual on equal-length buffers):
 * shown here by what they accept and refuse, and that no input makes them throw (timingSafeEqual
 * throws on buffers of different lengths). Timing itself is not measured.
 */
describe("constant-time secret comparisons", () => {
  it("sameSecret: any lengths, equal only when equal", () => {
    expect(sameSecret("footfall-admin-dev-token", "footfall-admin-dev-token")).toBe(true);
    expect(sameSecret("footfall-admin-dev-token", "footfall-admin-dev-tokeN")).toBe(false);
    expect(sameSecret("short", "a much longer token than that")).toBe(false);
    expect(sameSecret("", "x")).toBe(false);
  });

  it("keyMatches: a stored hash that is not 64 hex digits matches nothing and does not throw", () => {
    const { key } = generateKey();
    expect(keyMatches(key, hashKey(key))).toBe(true);
    expect(keyMatches(key, `sha256$${"zz".repeat(32)}`)).toBe(false);
    expect(keyMatches(key, `sha256$${"0".repeat(63)}g`)).toBe(false);
  });

  it("sameFingerprint (the device registry's remembered verification): equal only when equal", () => {
    const f = `${"a".repeat(64)}$scrypt$00$11`;
    expect(sameFingerprint(f, f)).toBe(true);
    expect(sameFingerprint(f, f.replace(/a$/, "b").replace(/^a/, "b"))).toBe(false);
    expect(sameFingerprint(f, `${f}0`)).toBe(false);
    expect(sameFingerprint(undefined, f)).toBe(false);
  });
});
