import type { NatsConnection } from "@nats-io/transport-node";
import { KeyRecord, type CreateKeyRequest, type CreatedKey, type KeyView } from "../contracts/api-keys.ts";
import { KV_KEYS } from "../contracts/nats-layout.ts";
import { KvMirror } from "../infra/kv-mirror.ts";
import type { Logger } from "../infra/log.ts";
import { generateKey, hashKey, keyIdOf, keyMatches } from "./api-key.ts";

/**
 * The API keys, in KV ff_keys (id -> KeyRecord with the key's sha256), mirrored by a watch so a
 * key created or revoked through any API process is honoured by every API, gateway and broker
 * process within moments.
 */
export class KeyStore {
  private constructor(private readonly mirror: KvMirror<KeyRecord>) {}

  static async open(nc: NatsConnection, log?: Logger): Promise<KeyStore> {
    const store = new KeyStore(await KvMirror.open(nc, KV_KEYS, KeyRecord, "api keys", log));
    log?.info({ keys: store.mirror.size }, "api keys loaded");
    return store;
  }

  /** A new key: stored as a hash, the key text returned once. */
  async create(req: CreateKeyRequest, now = Date.now()): Promise<CreatedKey> {
    const { id, key } = generateKey();
    const record: KeyRecord = { id, name: req.name, role: req.role, sites: req.sites, created: now, hash: hashKey(key) };
    await this.mirror.kv.create(id, JSON.stringify(record));
    return { id, key };
  }

  list(): KeyView[] {
    return [...this.mirror.entries()].map(([, r]) => view(r)).sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  }

  get(id: string): KeyView | undefined {
    const r = this.mirror.get(id);
    return r && view(r);
  }

  /** false if there was no such key */
  async revoke(id: string): Promise<boolean> {
    if (!this.mirror.get(id)) return false;
    await this.mirror.kv.delete(id);
    return true;
  }

  /** The key's record if `key` is a valid, unrevoked key (and, given, has id `id`). */
  verify(key: string, id?: string): KeyView | undefined {
    if (typeof key !== "string" || key.length > 200) return undefined;
    const keyId = keyIdOf(key);
    if (!keyId || (id !== undefined && id !== keyId)) return undefined;
    const r = this.mirror.get(keyId);
    return r && keyMatches(key, r.hash) ? view(r) : undefined;
  }

  /** Called when a key is revoked (or its record removed): open sessions using it must end. */
  onRevoked(listener: (id: string) => void): () => void {
    return this.mirror.onChange((id, value) => { if (value === undefined) listener(id); });
  }

  close(): void {
    this.mirror.close();
  }
}

const view = ({ hash: _hash, ...v }: KeyRecord): KeyView => v;
