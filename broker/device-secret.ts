import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";

/** Device secrets are stored only as scrypt hashes: "scrypt$<salt hex>$<hash hex>". */
const KEYLEN = 32;
const COST = { N: 16384, r: 8, p: 1 } as const;

export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, KEYLEN, COST);
  return `scrypt$${salt.toString("hex")}$${hash.toString("hex")}`;
}

export function verifySecret(secret: string, stored: string): boolean {
  const [alg, saltHex, hashHex] = stored.split("$");
  if (alg !== "scrypt" || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, "hex");
  const actual = scryptSync(secret, Buffer.from(saltHex, "hex"), expected.length, COST);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** verifySecret on libuv's thread pool: the event loop keeps serving while scrypt runs (~50 ms). */
export async function verifySecretAsync(secret: string, stored: string): Promise<boolean> {
  const [alg, saltHex, hashHex] = stored.split("$");
  if (alg !== "scrypt" || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, "hex");
  if (expected.length === 0) return false;
  const actual = await new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, Buffer.from(saltHex, "hex"), expected.length, COST, (e, key) => (e ? reject(e) : resolve(key))));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A new random device secret (returned once to whoever registered the device). */
export const generateSecret = () => randomBytes(18).toString("base64url");
