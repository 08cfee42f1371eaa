import { createHash, randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { FencedError, type VersionedKey } from "./versioned-key.ts";

/**
 * Most bytes of an actor snapshot in one KV value; a larger snapshot is split into parts of this
 * size. Below a nats-server's default max_payload (1 MB), whatever the server allows.
 */
export const SNAPSHOT_PART_BYTES = 512 * 1024;

/**
 * The head of a snapshot split into parts: the snapshot's bytes are the parts 0..count-1 of
 * generation `gen`, concatenated (partKey). A generation is the writer's own (a random token per
 * loaded key) and one of its two slots, used in turn: a new snapshot's parts never overwrite
 * those the head still names, nor those of another writer of the same key.
 */
export const SplitHead = z.strictObject({
  split: z.strictObject({
    gen: z.string().regex(/^[0-9a-f]{6}[01]$/),
    count: z.number().int().min(1),
    bytes: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
});
export type SplitHead = z.infer<typeof SplitHead>;
export type Split = SplitHead["split"];

/**
 * KV key of part `i` of generation `gen` of the snapshot under `head` ("a.{kind}.{id}" →
 * "s.{kind}.{id}.{gen}.{i}"). Always two tokens after the head's, so no other actor's head or
 * parts can have the same key.
 */
export const partKey = (head: string, gen: string, i: number) => `s${head.slice(head.indexOf("."))}.${gen}.${i}`;

const encoder = new TextEncoder();
const newToken = () => randomBytes(3).toString("hex");
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * An actor's snapshot key: the head (a VersionedKey, written by compare-and-set, so it stays
 * fenced against another writer) holds the snapshot itself when it fits in one part, or a
 * SplitHead naming its parts. Parts are written first, the head last: a snapshot is in effect
 * only once its head is, and a write that fails half-way leaves the previous snapshot whole.
 * Parts no head names any more are deleted (best effort: a crash or a refused head write can
 * leave some behind, which cost storage only). A deleted part leaves a small KV marker behind.
 */
export class ActorSnapshotKey {
  /**
   * This writer's generations are `${token}0` and `${token}1`, the one the head does not name
   * taken in turn. After a head write that failed in transit (it may have landed), the token is
   * drawn again, so no generation the head might name is written over.
   */
  private token = newToken();
  /** parts written per generation, as far as this writer knows (to delete those no head names) */
  private readonly written = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    private readonly head: VersionedKey,
    /** the split the head names now (undefined: the head holds the snapshot, or there is none) */
    private split: Split | undefined,
    private readonly partBytes = SNAPSHOT_PART_BYTES,
  ) {
    if (split) this.written.set(split.gen, split.count);
  }

  get key(): string { return this.head.key; }

  /** Writes the snapshot `value` (JSON bytes), split into parts if it is larger than one part. */
  async write(value: Uint8Array): Promise<void> {
    const before = this.split;
    if (value.length <= this.partBytes) {
      await this.head.write(value);
      this.split = undefined;
      if (before) await this.dropParts(before.gen, 0);
      return;
    }
    const gen = before?.gen === `${this.token}0` ? `${this.token}1` : `${this.token}0`;
    const count = Math.ceil(value.length / this.partBytes);
    this.written.set(gen, Math.max(this.written.get(gen) ?? 0, count));
    for (let i = 0; i < count; i++) {
      await this.kv.put(partKey(this.head.key, gen, i), value.subarray(i * this.partBytes, (i + 1) * this.partBytes));
    }
    const split: Split = { gen, count, bytes: value.length, sha256: sha256(value) };
    try {
      await this.head.write(encoder.encode(JSON.stringify({ split } satisfies SplitHead)));
    } catch (e) {
      // refused: another writer's head, which never names these parts (a write that failed in
      // transit may still have landed, so its parts stay)
      if (e instanceof FencedError) await this.dropParts(gen, 0);
      else this.token = newToken();
      throw e;
    }
    this.split = split;
    await this.dropParts(gen, count); // left over from a larger snapshot of the same generation
    if (before && before.gen !== gen) await this.dropParts(before.gen, 0);
  }

  /** Deletes parts `from` and up of generation `gen`, as far as this writer knows of them. */
  private async dropParts(gen: string, from: number): Promise<void> {
    const upTo = this.written.get(gen) ?? 0;
    if (from >= upTo) return;
    if (from === 0) this.written.delete(gen);
    else this.written.set(gen, from);
    await Promise.all(Array.from({ length: upTo - from }, (_, k) =>
      this.kv.purge(partKey(this.head.key, gen, from + k)).catch(() => {})));
  }
}

/**
 * The bytes of a split snapshot, read from its parts; undefined when a part is missing or the
 * whole does not match the head's length and hash.
 */
export async function readParts(kv: KV, head: string, split: Split): Promise<Uint8Array | undefined> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < split.count; i++) {
    const e = await kv.get(partKey(head, split.gen, i));
    if (!e || e.operation !== "PUT") return undefined;
    parts.push(e.value);
  }
  const bytes = Buffer.concat(parts);
  return bytes.length === split.bytes && sha256(bytes) === split.sha256 ? bytes : undefined;
}
