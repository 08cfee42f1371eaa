/**
 * Time-limited signed URLs to fetch a chunk blob: `{prefix}/chunks/{sha256}?exp=<epoch s>&sig=<hex>`.
 * `sig` = HMAC-SHA256 (hex) with the server's URL secret over "chunk\n{sha256}\n{exp}", so
 * the link needs no token and stops working at `exp`. Verification answers a reason when it
 * fails: malformed, expired or bad_signature (tampered sha256, exp or sig, or another secret).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const SHA_RE = /^[0-9a-f]{64}$/;

export type UrlSecret = string | Buffer;

export interface SignedChunkUrl {
  /** path and query, e.g. /api/v1/chunks/ab..?exp=1700000000&sig=.. */
  url: string;
  sha256: string;
  /** expiry, epoch seconds */
  exp: number;
  sig: string;
}

export type VerifyResult =
  | { ok: true; sha256: string; exp: number }
  | { ok: false; reason: "malformed" | "expired" | "bad_signature"; detail: string };

const mac = (secret: UrlSecret, sha256: string, exp: number) =>
  createHmac("sha256", secret).update(`chunk\n${sha256}\n${exp}`).digest("hex");

/** A URL for blob `sha256` valid for `ttlSeconds` from `nowMs` (default 15 min). */
export function signChunkUrl(opts: { sha256: string; secret: UrlSecret; nowMs: number; ttlSeconds?: number; prefix?: string }): SignedChunkUrl {
  if (!SHA_RE.test(opts.sha256)) throw new Error(`not a sha256: ${opts.sha256}`);
  const ttl = opts.ttlSeconds ?? 900;
  if (!(ttl > 0)) throw new Error("ttlSeconds must be positive");
  const exp = Math.floor(opts.nowMs / 1000) + Math.ceil(ttl);
  const sig = mac(opts.secret, opts.sha256, exp);
  return { url: `${opts.prefix ?? ""}/chunks/${opts.sha256}?exp=${exp}&sig=${sig}`, sha256: opts.sha256, exp, sig };
}

/** Checks the parts of a signed URL (as received: strings) at `nowMs`. */
export function verifyChunkUrl(parts: { sha256: unknown; exp: unknown; sig: unknown }, secret: UrlSecret, nowMs: number): VerifyResult {
  const { sha256, exp, sig } = parts;
  if (typeof sha256 !== "string" || !SHA_RE.test(sha256)) return { ok: false, reason: "malformed", detail: "the chunk id must be a sha256 (64 lowercase hex)" };
  if (typeof exp !== "string" || !/^\d{1,12}$/.test(exp)) return { ok: false, reason: "malformed", detail: "exp must be epoch seconds" };
  if (typeof sig !== "string" || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: "malformed", detail: "sig must be 64 lowercase hex" };
  const expS = Number(exp);
  const want = Buffer.from(mac(secret, sha256, expS), "hex");
  if (!timingSafeEqual(want, Buffer.from(sig, "hex"))) return { ok: false, reason: "bad_signature", detail: "the signature does not match this URL" };
  if (nowMs >= expS * 1000) return { ok: false, reason: "expired", detail: `the URL expired at ${new Date(expS * 1000).toISOString()}` };
  return { ok: true, sha256, exp: expS };
}

/** Splits a signed URL (path with query) into the parts verifyChunkUrl takes. */
export function parseChunkUrl(url: string): { sha256: string | null; exp: string | null; sig: string | null } {
  const u = new URL(url, "http://x");
  const m = /\/chunks\/([^/]+)$/.exec(u.pathname);
  return { sha256: m?.[1] ?? null, exp: u.searchParams.get("exp"), sig: u.searchParams.get("sig") };
}
