import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";

/**
 * Device secrets are stored only as scrypt hashes: "scrypt$<salt hex>$<hash hex>".
 * scrypt costs ~40 ms: it runs on libuv's thread pool, so the event loop keeps serving.
 */
const KEYLEN = 32;
const COST = { N: 16384, r: 8, p: 1 } as const;

const derive = (secret: string, salt: Buffer, keylen: number) =>
  new Promise<Buffer>((resolve, reject) => scrypt(secret, salt, keylen, COST, (e, key) => (e ? reject(e) : resolve(key))));

const format = (salt: Buffer, hash: Buffer) => `scrypt$${salt.toString("hex")}$${hash.toString("hex")}`;

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  return format(salt, await derive(secret, salt, KEYLEN));
}

/** hashSecret blocking the caller: for tools and test fixtures, never on a serving path. */
export function hashSecretSync(secret: string): string {
  const salt = randomBytes(16);
  return format(salt, scryptSync(secret, salt, KEYLEN, COST));
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [alg, saltHex, hashHex] = stored.split("$");
  if (alg !== "scrypt" || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, "hex");
  if (expected.length === 0) return false;
  const actual = await derive(secret, Buffer.from(saltHex, "hex"), expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Whether two secret-derived strings (the registry's remembered `sha256(secret)$hash`) are equal,
 * in time independent of where they first differ. undefined (nothing remembered) equals nothing.
 */
export function sameFingerprint(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new random device secret (returned once to whoever registered the device). */
export const generateSecret = () => randomBytes(18).toString("base64url");
