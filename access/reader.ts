import type { KeyView } from "../contracts/api-keys.ts";
import { sameSecret } from "./api-key.ts";
import type { KeyStore } from "./key-store.ts";

/**
 * Who is asking: the operator's admin token, or an API key. Every read of a site's data
 * (occupancy, paths with clothing, video, the live feed, MQTT results) needs one that covers
 * the site: a viewer or admin key listing it (or "*"), or the admin token.
 */
export type Principal =
  | { kind: "admin-token" }
  | { kind: "key"; key: KeyView };

/** Resolves a presented secret (Bearer token, cookie, MQTT password) to who holds it. */
export class Readers {
  constructor(private readonly adminToken: string, private readonly keys: KeyStore) {}

  authenticate(secret: string | undefined): Principal | undefined {
    if (!secret) return undefined;
    if (sameSecret(secret, this.adminToken)) return { kind: "admin-token" };
    const key = this.keys.verify(secret);
    return key && { kind: "key", key };
  }

  get store(): KeyStore {
    return this.keys;
  }
}

export function mayRead(p: Principal, site: string): boolean {
  if (p.kind === "admin-token") return true;
  return p.key.sites === "*" || p.key.sites.includes(site);
}

export function isAdmin(p: Principal): boolean {
  return p.kind === "admin-token" || p.key.role === "admin";
}

/** For logs: who sent a request, without the secret. */
export const principalName = (p: Principal) => (p.kind === "admin-token" ? "admin-token" : `key:${p.key.id}`);
