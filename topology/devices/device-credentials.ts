import type { DeviceRecord } from "../../contracts/device.ts";
import type { DeviceDef } from "../../contracts/topology.ts";
import { generateSecret, hashSecret } from "./device-secret.ts";

/**
 * Turns the devices of a topology document into registry records. Only scrypt hashes are kept:
 *  - a secret given by the caller is hashed (rotation);
 *  - a device already registered to this site without a new secret keeps its hash;
 *  - any other device gets a generated secret, reported once in `generated`.
 * One instance serves one store call across its CAS retries, so a secret generated (or hashed)
 * in a failed attempt is reused, never hashed or generated twice.
 */
export class DeviceCredentials {
  private readonly hashed = new Map<string, { secret: string; hash: string }>();
  private readonly minted = new Map<string, { secret: string; hash: string }>();

  /** The record to store for `def`, and the secret to hand out once if one was generated. */
  async recordFor(site: string, def: DeviceDef, existing: DeviceRecord | undefined): Promise<{ record: DeviceRecord; generated?: string }> {
    const base = { id: def.id, kind: def.kind, site, ...(def.doorway !== undefined ? { doorway: def.doorway } : {}) };
    if (def.secret !== undefined) return { record: { ...base, secretHash: await this.hashOf(def.id, def.secret) } };
    const mine = this.minted.get(def.id);
    if (mine) return { record: { ...base, secretHash: mine.hash }, generated: mine.secret };
    if (existing && existing.site === site) return { record: { ...base, secretHash: existing.secretHash } };
    const secret = generateSecret();
    const fresh = { secret, hash: await hashSecret(secret) };
    this.minted.set(def.id, fresh);
    return { record: { ...base, secretHash: fresh.hash }, generated: secret };
  }

  private async hashOf(id: string, secret: string): Promise<string> {
    const known = this.hashed.get(id);
    if (known && known.secret === secret) return known.hash;
    const hash = await hashSecret(secret);
    this.hashed.set(id, { secret, hash });
    return hash;
  }
}

export const sameRecord = (a: DeviceRecord, b: DeviceRecord) =>
  a.id === b.id && a.kind === b.kind && a.site === b.site && a.doorway === b.doorway && a.secretHash === b.secretHash;
