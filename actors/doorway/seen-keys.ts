import { z } from "zod";
import { KeyColumns, decodeKeys, decodeTimes, encodeKeys, encodeTimes } from "../timeline/key-columns.ts";
import { capKeep } from "../timeline/late-horizon.ts";

export type Admission = "fresh" | "duplicate" | "too-late";

export const SeenKeysSnapshot = z.strictObject({
  v: z.literal(1),
  newest: z.number().int().nullable(),
  /** keys at or before this ts were shed for the size cap: such crossings are refused */
  floor: z.number().int().nullable().optional(),
  t: z.array(z.number().int()),
  k: KeyColumns,
});
export type SeenKeysSnapshot = z.infer<typeof SeenKeysSnapshot>;

/**
 * The doorway's de-duplication "for all time": every crossing key seen within the late horizon
 * (ts >= newest ts seen - horizon) is remembered; anything older than the horizon is refused as
 * too late, so a re-send can never be counted twice, however late it comes.
 *
 * Keys are also queued in arrival order; pruning pops from the oldest arrival and stops at the
 * first key still inside the horizon, so it costs O(1) amortised per event. (A key that arrived
 * late may outlive the horizon a little; that only costs memory, never correctness.)
 */
export class SeenKeys {
  private byKey = new Set<string>();
  /** arrival order: queueKeys[head..] / queueTs[head..] are live */
  private queueKeys: string[] = [];
  private queueTs: number[] = [];
  private head = 0;
  private newestTs = Number.NEGATIVE_INFINITY;
  private floorTs = Number.NEGATIVE_INFINITY;

  get size(): number { return this.byKey.size; }
  get newest(): number | undefined { return Number.isFinite(this.newestTs) ? this.newestTs : undefined; }

  /** Is this crossing new? If so it is remembered. */
  admit(key: string, ts: number, horizonMs: number, maxEntries = Number.POSITIVE_INFINITY): Admission {
    if (ts < this.newestTs - horizonMs || ts <= this.floorTs) return "too-late";
    if (this.byKey.has(key)) return "duplicate";
    this.remember(key, ts);
    if (ts > this.newestTs) {
      this.newestTs = ts;
      this.prune(horizonMs);
    }
    if (this.byKey.size > maxEntries) this.shed(capKeep(maxEntries));
    return "fresh";
  }

  /**
   * Over the size cap: forgets the oldest arrivals down to `keep` keys, and from then on refuses
   * every crossing at or before the newest ts forgotten (so a forgotten key can never count twice).
   */
  private shed(keep: number): void {
    const n = this.queueTs.length;
    while (this.byKey.size > keep && this.head < n) {
      this.byKey.delete(this.queueKeys[this.head]!);
      if (this.queueTs[this.head]! > this.floorTs) this.floorTs = this.queueTs[this.head]!;
      this.head++;
    }
    this.prune(Number.POSITIVE_INFINITY);
  }

  private remember(key: string, ts: number): void {
    this.byKey.add(key);
    this.queueKeys.push(key);
    this.queueTs.push(ts);
  }

  private prune(horizonMs: number): void {
    const cutoff = this.newestTs - horizonMs;
    const n = this.queueTs.length;
    while (this.head < n && this.queueTs[this.head]! < cutoff) {
      this.byKey.delete(this.queueKeys[this.head]!);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > n) {
      this.queueKeys = this.queueKeys.slice(this.head);
      this.queueTs = this.queueTs.slice(this.head);
      this.head = 0;
    }
  }

  encode(): SeenKeysSnapshot {
    return {
      v: 1,
      newest: this.newest ?? null,
      floor: Number.isFinite(this.floorTs) ? this.floorTs : null,
      t: encodeTimes(this.queueTs.slice(this.head)),
      k: encodeKeys(this.queueKeys.slice(this.head)),
    };
  }

  static decode(raw: unknown): SeenKeys {
    const s = SeenKeysSnapshot.parse(raw);
    const ts = decodeTimes(s.t);
    const keys = decodeKeys(s.k);
    if (ts.length !== keys.length) throw new Error("seen-keys snapshot columns of different lengths");
    const out = new SeenKeys();
    out.newestTs = s.newest ?? Number.NEGATIVE_INFINITY;
    out.floorTs = s.floor ?? Number.NEGATIVE_INFINITY;
    for (let i = 0; i < keys.length; i++) out.remember(keys[i]!, ts[i]!);
    return out;
  }
}
