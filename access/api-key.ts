import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { KEY_ID_RE } from "../contracts/api-keys.ts";

/**
 * API key text "ffk_{id}_{secret}": 12 hex characters of id (48 bits) and 24 base64url
 * characters of secret (144 random bits). Stored as sha256 only: with that much entropy a slow
 * hash adds nothing, and every request can afford to check it.
 */
const KEY_RE = /^ffk_([a-f0-9]{12})_([A-Za-z0-9_-]{24})$/;

export function generateKey(): { id: string; key: string } {
  const id = randomBytes(6).toString("hex");
  return { id, key: `ffk_${id}_${randomBytes(18).toString("base64url")}` };
}

/** The id a key names, or undefined if the text is not shaped like a key. */
export function keyIdOf(key: string): string | undefined {
  const m = KEY_RE.exec(key);
  return m && KEY_ID_RE.test(m[1]!) ? m[1] : undefined;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

export const hashKey = (key: string) => `sha256$${sha256(key).toString("hex")}`;

/** Whether `key` hashes to `stored` ("sha256$<hex>"), compared in constant time. */
export function keyMatches(key: string, stored: string): boolean {
  const [alg, hex] = stored.split("$");
  if (alg !== "sha256" || !hex || !/^[0-9a-f]{64}$/i.test(hex)) return false;
  return timingSafeEqual(sha256(key), Buffer.from(hex, "hex"));
}

/** Constant-time equality of two secrets of any length (compares their sha256). */
export const sameSecret = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b));
