import type { KV } from "@nats-io/kv";

/** JetStream "wrong last sequence": the compare-and-set found another revision. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

export function isWrongLastSequence(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "number" && WRONG_LAST_SEQUENCE.has(code)) return true;
  return /wrong last sequence/i.test((e as Error)?.message ?? "");
}

/** Someone else wrote the key since we last read or wrote it: we no longer own what it guards. */
export class FencedError extends Error {
  constructor(readonly key: string, detail: string) {
    super(`${key}: ${detail}`);
    this.name = "FencedError";
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A KV key we write only with compare-and-set against the revision we last read or wrote
 * (`kv.create` when it never existed). A refused write means another writer got in: FencedError.
 * A write that failed in transit (timeout during a NATS outage) may still have landed; the value
 * is remembered, and when the next CAS is refused and the key holds exactly that value, its
 * revision is adopted instead of treating our own write as a rival's.
 */
export class VersionedKey {
  private unconfirmed: Uint8Array[] = [];

  constructor(private readonly kv: KV, readonly key: string, public revision: number) {}

  async write(value: Uint8Array): Promise<number> {
    for (let adopted = false; ; adopted = true) {
      try {
        const rev = this.revision > 0 ? await this.kv.update(this.key, value, this.revision) : await this.kv.create(this.key, value);
        this.revision = rev;
        this.unconfirmed = [];
        return rev;
      } catch (e) {
        if (!isWrongLastSequence(e)) {
          this.unconfirmed = [value, ...this.unconfirmed].slice(0, 4);
          throw e;
        }
        if (adopted) throw new FencedError(this.key, "changed by another writer");
        const current = await this.kv.get(this.key);
        const ours = current && current.operation === "PUT" && [value, ...this.unconfirmed].some((v) => sameBytes(v, current.value));
        if (!current || !ours) throw new FencedError(this.key, current ? `now at revision ${current.revision}` : "gone");
        this.revision = current.revision;
      }
    }
  }

  /** Deletes the key if it is still at our revision; false (and nothing deleted) when a rival wrote it since. */
  async remove(): Promise<boolean> {
    if (this.revision <= 0) return false;
    try {
      await this.kv.delete(this.key, { previousSeq: this.revision });
    } catch (e) {
      if (isWrongLastSequence(e)) return false;
      throw e;
    }
    this.revision = 0;
    return true;
  }
}
