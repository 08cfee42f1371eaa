import { z } from "zod";
import { KeyColumns, decodeKeys, decodeTimes, encodeKeys, encodeTimes } from "./key-columns.ts";
import { capKeep, worthFolding } from "./late-horizon.ts";
import { lowerBound, upperBound } from "./sorted-search.ts";

export type InsertOutcome = "inserted" | "duplicate" | "too-late";

/** The count timeline from `from` on: `before` holds just before it, then [ts, count] per distinct ts. */
export interface CountsTail {
  from: number;
  before: number;
  points: Array<[number, number]>;
}

export const TimelineSnapshot = z.strictObject({
  v: z.literal(1),
  base: z.number().int().nonnegative(),
  floor: z.number().int().nullable(),
  dirty: z.number().int().nullable(),
  inserted: z.number().int().nonnegative(),
  t: z.array(z.number().int()),
  /** one character per event: '+' or '-' */
  d: z.string().regex(/^[+-]*$/),
  k: KeyColumns,
});
export type TimelineSnapshot = z.infer<typeof TimelineSnapshot>;

/**
 * A space's occupancy as an event-time step function, exact under late, out-of-order and
 * duplicate delivery: the count at t is the running sum, clamped at 0 after every event, of all
 * events with ts <= t taken in (ts, key) order (seed 001: counts never go below zero).
 *
 * Events are kept sorted by (ts, key) in parallel arrays with the clamped count after each one.
 * An on-time event is appended in O(1); a late one is placed by binary search and the counts
 * after it are recomputed lazily (once per flush, however many late events arrived). Events
 * older than the late horizon are folded into `base`; an event at or before the folded region
 * can no longer be placed exactly and is refused as too late.
 */
export class Timeline {
  private ts: number[] = [];
  private keys: string[] = [];
  private deltas: number[] = [];
  /** counts[i]: clamped count after event i; valid for i < valid */
  private counts: number[] = [];
  private valid = 0;
  private keySet = new Set<string>();
  /** count before the first kept event (everything folded) */
  private base = 0;
  /** newest folded ts; events at or before it are too late */
  private floor = Number.NEGATIVE_INFINITY;
  /** earliest ts changed since the last takeDirty() */
  private dirty = Number.POSITIVE_INFINITY;
  /** events ever inserted: a version number for deterministic message ids */
  private insertedTotal = 0;
  /** out-of-order events not merged into the arrays yet (each sorts before the last kept event) */
  private pending: Array<{ ts: number; key: string; delta: number }> = [];

  get size(): number { return this.ts.length + this.pending.length; }
  get version(): number { return this.insertedTotal; }
  get newest(): number | undefined { return this.ts[this.ts.length - 1]; }
  get floorTs(): number | undefined { return Number.isFinite(this.floor) ? this.floor : undefined; }
  get dirtyFrom(): number | undefined { return Number.isFinite(this.dirty) ? this.dirty : undefined; }

  has(key: string): boolean { return this.keySet.has(key); }

  insert(ts: number, key: string, delta: 1 | -1): InsertOutcome {
    if (ts <= this.floor) return "too-late";
    if (this.keySet.has(key)) return "duplicate";
    this.keySet.add(key);
    this.insertedTotal++;
    if (ts < this.dirty) this.dirty = ts;
    const n = this.ts.length;
    const lastTs = this.ts[n - 1];
    if (lastTs === undefined || ts > lastTs || (ts === lastTs && key > this.keys[n - 1]!)) {
      this.ts.push(ts);
      this.keys.push(key);
      this.deltas.push(delta);
      if (this.valid === n) {
        this.counts.push(clamp((n > 0 ? this.counts[n - 1]! : this.base) + delta));
        this.valid = n + 1;
      } else {
        this.counts.push(0);
      }
      return "inserted";
    }
    // out of order: merged in at the next read, all late events of a batch in one pass
    this.pending.push({ ts, key, delta });
    return "inserted";
  }

  /** The count now (after every event). */
  current(): number {
    this.settle();
    const n = this.counts.length;
    return n > 0 ? this.counts[n - 1]! : this.base;
  }

  /** The count holding at instant t (after all events with ts <= t). Before the folded region only `base` is known. */
  countAt(t: number): number {
    this.settle();
    const i = upperBound(this.ts, t);
    return i > 0 ? this.counts[i - 1]! : this.base;
  }

  /** [ts, count] for every distinct ts >= from, and the count just before `from`. */
  tailFrom(from: number): CountsTail {
    this.settle();
    const start = lowerBound(this.ts, from);
    const before = start > 0 ? this.counts[start - 1]! : this.base;
    const points: Array<[number, number]> = [];
    const n = this.ts.length;
    for (let i = start; i < n; i++) {
      const t = this.ts[i]!;
      if (i + 1 < n && this.ts[i + 1] === t) continue;
      points.push([t, this.counts[i]!]);
    }
    return { from, before, points };
  }

  /** The tail from the earliest change since the last call (undefined if nothing changed); marks it clean. */
  takeDirty(): CountsTail | undefined {
    if (!Number.isFinite(this.dirty)) return undefined;
    const tail = this.tailFrom(this.dirty);
    this.dirty = Number.POSITIVE_INFINITY;
    return tail;
  }

  /**
   * Folds events older than (newest - horizonMs) into `base`, never past an un-taken change;
   * with more than maxEntries events, also the oldest ones down to 90 % of that.
   * lazy: wait until enough has accumulated for the fold to be cheap per event. Returns events folded.
   */
  compact(horizonMs: number, lazy = true, maxEntries = Number.POSITIVE_INFINITY): number {
    this.mergePending();
    const newest = this.newest;
    if (newest === undefined) return 0;
    const n = this.ts.length;
    const overCap = n > maxEntries;
    let cutoff = newest - horizonMs;
    if (overCap) cutoff = Math.max(cutoff, this.ts[n - capKeep(maxEntries)]!);
    cutoff = Math.min(cutoff, this.dirty);
    const k = lowerBound(this.ts, cutoff);
    if (k === 0) return 0;
    if (lazy && !overCap && !worthFolding(k, n)) return 0;
    this.settle();
    this.base = this.counts[k - 1]!;
    this.floor = this.ts[k - 1]!;
    for (let i = 0; i < k; i++) this.keySet.delete(this.keys[i]!);
    this.ts.splice(0, k);
    this.keys.splice(0, k);
    this.deltas.splice(0, k);
    this.counts.splice(0, k);
    this.valid -= k;
    return k;
  }

  encode(): TimelineSnapshot {
    this.mergePending();
    let d = "";
    for (const x of this.deltas) d += x > 0 ? "+" : "-";
    return {
      v: 1,
      base: this.base,
      floor: Number.isFinite(this.floor) ? this.floor : null,
      dirty: Number.isFinite(this.dirty) ? this.dirty : null,
      inserted: this.insertedTotal,
      t: encodeTimes(this.ts),
      d,
      k: encodeKeys(this.keys),
    };
  }

  /** Rebuilds a timeline from encode() output; throws with the reason if it is not one. */
  static decode(raw: unknown): Timeline {
    const s = TimelineSnapshot.parse(raw);
    const ts = decodeTimes(s.t);
    const keys = decodeKeys(s.k);
    if (ts.length !== keys.length || ts.length !== s.d.length) throw new Error("timeline snapshot columns of different lengths");
    const tl = new Timeline();
    tl.ts = ts;
    tl.keys = keys;
    tl.deltas = Array.from(s.d, (c) => (c === "+" ? 1 : -1));
    tl.counts = new Array<number>(ts.length).fill(0);
    tl.keySet = new Set(keys);
    tl.base = s.base;
    tl.floor = s.floor ?? Number.NEGATIVE_INFINITY;
    tl.dirty = s.dirty ?? Number.POSITIVE_INFINITY;
    tl.insertedTotal = s.inserted;
    tl.valid = 0;
    tl.settle();
    return tl;
  }

  /** First index whose (ts, key) is >= the given one. */
  private positionOf(ts: number, key: string): number {
    let lo = lowerBound(this.ts, ts);
    let hi = upperBound(this.ts, ts, lo);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Merges the pending out-of-order events into the sorted arrays: O(m log m + events after the first of them). */
  private mergePending(): void {
    const m = this.pending.length;
    if (m === 0) return;
    const late = this.pending.sort((a, b) => a.ts - b.ts || (a.key < b.key ? -1 : 1));
    this.pending = [];
    const at = this.positionOf(late[0]!.ts, late[0]!.key);
    const ts = this.ts.slice(at);
    const keys = this.keys.slice(at);
    const deltas = this.deltas.slice(at);
    this.ts.length = at;
    this.keys.length = at;
    this.deltas.length = at;
    this.counts.length = at;
    let i = 0;
    let j = 0;
    while (i < ts.length || j < m) {
      const e = late[j];
      if (e && (i === ts.length || e.ts < ts[i]! || (e.ts === ts[i]! && e.key < keys[i]!))) {
        this.ts.push(e.ts);
        this.keys.push(e.key);
        this.deltas.push(e.delta);
        j++;
      } else {
        this.ts.push(ts[i]!);
        this.keys.push(keys[i]!);
        this.deltas.push(deltas[i]!);
        i++;
      }
      this.counts.push(0);
    }
    if (at < this.valid) this.valid = at;
  }

  /** Recomputes the clamped counts from the first stale position on. */
  private settle(): void {
    this.mergePending();
    const n = this.ts.length;
    let prev = this.valid > 0 ? this.counts[this.valid - 1]! : this.base;
    for (let i = this.valid; i < n; i++) {
      prev = clamp(prev + this.deltas[i]!);
      this.counts[i] = prev;
    }
    this.valid = n;
  }
}

const clamp = (x: number) => (x < 0 ? 0 : x);
