import { z } from "zod";

/**
 * The camera actor's first line: frames come in duplicated and out of order (re-sends, batches a
 * camera held back), the tracker needs them once each and in order. A frame is identified by
 * (seq, frameTs).
 *
 * - A frame already processed (remembered for `memoryMs` of frame time) or already buffered is a
 *   duplicate. The first frame with a given seq wins.
 * - The first frame ever, or the next expected seq (last processed + 1), is released at once,
 *   followed by any buffered frames that now follow without a gap.
 * - A higher seq waits in the buffer. A gap is given up when the buffer holds a frame `reorderMs`
 *   of frame time past the last processed frame (or holds more than `maxBuffered` frames or
 *   `maxBufferedBytes` of estimated size, which bounds memory and the snapshot): then
 *   the buffer is released in seq order from its lowest seq on, gap by gap, while that holds.
 * - A lower seq whose place was passed is late: not tracked. Except: a lower seq with a frameTs
 *   newer than every processed frame means the camera restarted its counter; the buffer is
 *   released first, then the frame, and the order continues from its seq.
 * - A frame whose frameTs is older than the last processed frame but whose seq is not behind (a
 *   camera clock going back without a counter restart, an old frame after a restart) is late too.
 * - releaseStale (called at flush) releases the whole buffer when its oldest frame was received
 *   (broker time) more than reorderMs before `now` (wall time), so the end of a stream does not
 *   stay buffered. This is the only wall-clock decision; everything else depends on frame data.
 */
export interface OrderedFrame { seq: number; frameTs: number; receivedAt: number }

export type Admission = "accepted" | "duplicate" | "late";

/** Where released frames go: `ready` in processing order, `late` for frames refused on the way. */
export interface Release<F> { ready: F[]; late: F[] }

export interface FrameOrderOptions<F = OrderedFrame> {
  reorderMs: number;
  /** most frames buffered */
  maxBuffered: number;
  /** most weight buffered (see weigh) */
  maxBufferedBytes?: number;
  /** a frame's weight, e.g. its estimated JSON size (default 0) */
  weigh?: (f: F) => number;
  memoryMs: number;
}

export const FrameOrderSnapshot = z.strictObject({
  /** next expected seq (null before the first frame) */
  next: z.number().int().nullable(),
  /** frameTs of the last processed frame (null before the first frame) */
  last: z.number().int().nullable(),
  /** remembered processed frames, delta-coded pairs: [seq0, ts0, seq1 - seq0, ts1 - ts0, ...] */
  p: z.array(z.number().int()),
  /** buffered frames, in seq order */
  b: z.array(z.unknown()),
});
export type FrameOrderSnapshot = z.infer<typeof FrameOrderSnapshot>;

export class FrameOrder<F extends OrderedFrame> {
  private next: number | undefined;
  private lastTs = Number.NEGATIVE_INFINITY;
  /** seq -> frameTs of processed frames, in processing order (so also frameTs order) */
  private processed = new Map<number, number>();
  private buffer = new Map<number, F>();
  /** total weight of the buffered frames */
  private weight = 0;

  constructor(private readonly o: FrameOrderOptions<F>) {}

  private weighOf(f: F): number {
    return this.o.weigh ? this.o.weigh(f) : 0;
  }

  /** Buffer beyond its caps. */
  private overfull(): boolean {
    return this.buffer.size > this.o.maxBuffered || this.weight > (this.o.maxBufferedBytes ?? Number.POSITIVE_INFINITY);
  }

  get buffered(): number { return this.buffer.size; }
  /** frameTs of the last processed frame, undefined before the first */
  get last(): number | undefined { return Number.isFinite(this.lastTs) ? this.lastTs : undefined; }

  /**
   * Takes one frame and tells what became of it. Frames now due for processing (this one and/or
   * buffered ones) are appended to out.ready in order; buffered frames refused on the way to out.late.
   */
  offer(f: F, out: Release<F>): Admission {
    if (this.processed.get(f.seq) === f.frameTs || this.buffer.has(f.seq)) return "duplicate";
    if (this.next === undefined || f.seq === this.next) {
      const ok = this.emit(f, out);
      this.drain(out);
      this.giveUpGaps(out);
      return ok ? "accepted" : "late";
    }
    if (f.seq < this.next) {
      if (!(f.frameTs > this.lastTs)) return "late";
      // the camera restarted its counter: older buffered frames first, then continue from this seq
      this.releaseAll(out);
      if (!(f.frameTs > this.lastTs)) return "late";
      this.emit(f, out);
      return "accepted";
    }
    // a later seq that is older than what was processed can never be tracked in order
    if (f.frameTs < this.lastTs) return "late";
    this.buffer.set(f.seq, f);
    this.weight += this.weighOf(f);
    if (f.frameTs - this.lastTs >= this.o.reorderMs || this.overfull()) this.giveUpGaps(out);
    return "accepted";
  }

  /** frames waiting in the buffer */
  get size(): number { return this.buffer.size; }

  /** At flush: releases the whole buffer if its oldest frame was received more than reorderMs before now. */
  releaseStale(now: number, out: Release<F>): void {
    if (this.buffer.size === 0) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const f of this.buffer.values()) if (f.receivedAt < oldest) oldest = f.receivedAt;
    if (now - oldest > this.o.reorderMs) this.releaseAll(out);
  }

  /** Processes f now (appends it to out.ready), unless it would go back in frame time (returns false). */
  private emit(f: F, out: Release<F>): boolean {
    this.next = f.seq + 1;
    if (f.frameTs < this.lastTs) return false;
    out.ready.push(f);
    this.lastTs = f.frameTs;
    this.processed.delete(f.seq);
    this.processed.set(f.seq, f.frameTs);
    this.forget();
    return true;
  }

  /** Releases buffered frames that follow the last processed one without a gap. */
  private drain(out: Release<F>): void {
    for (;;) {
      const f = this.next === undefined ? undefined : this.buffer.get(this.next);
      if (!f) return;
      this.buffer.delete(f.seq);
      this.weight -= this.weighOf(f);
      if (!this.emit(f, out)) out.late.push(f);
    }
  }

  /** Gives up gaps, lowest first, while the buffer reaches reorderMs past the last processed frame or is too full. */
  private giveUpGaps(out: Release<F>): void {
    while (this.buffer.size > 0) {
      let newest = Number.NEGATIVE_INFINITY, lowest = Number.POSITIVE_INFINITY;
      for (const f of this.buffer.values()) {
        if (f.frameTs > newest) newest = f.frameTs;
        if (f.seq < lowest) lowest = f.seq;
      }
      if (!(newest - this.lastTs >= this.o.reorderMs || this.overfull())) return;
      this.next = lowest;
      this.drain(out);
    }
  }

  private releaseAll(out: Release<F>): void {
    while (this.buffer.size > 0) {
      let lowest = Number.POSITIVE_INFINITY;
      for (const s of this.buffer.keys()) if (s < lowest) lowest = s;
      this.next = lowest;
      this.drain(out);
    }
  }

  /** Forgets processed frames older than memoryMs before the last one. */
  private forget(): void {
    const floor = this.lastTs - this.o.memoryMs;
    for (const [seq, ts] of this.processed) {
      if (ts >= floor) break;
      this.processed.delete(seq);
    }
  }

  encode(): FrameOrderSnapshot {
    const p: number[] = [];
    let ps = 0, pt = 0;
    for (const [seq, ts] of this.processed) {
      p.push(seq - ps, ts - pt);
      ps = seq;
      pt = ts;
    }
    const b = [...this.buffer.values()].sort((x, y) => x.seq - y.seq);
    return { next: this.next ?? null, last: Number.isFinite(this.lastTs) ? this.lastTs : null, p, b };
  }

  /** parseFrame validates each buffered frame of the snapshot. */
  static decode<F extends OrderedFrame>(raw: unknown, o: FrameOrderOptions<F>, parseFrame: (x: unknown) => F): FrameOrder<F> {
    const s = FrameOrderSnapshot.parse(raw);
    const order = new FrameOrder<F>(o);
    order.next = s.next ?? undefined;
    order.lastTs = s.last ?? Number.NEGATIVE_INFINITY;
    if (s.p.length % 2 !== 0) throw new Error("processed frames: odd number of entries");
    let seq = 0, ts = 0;
    for (let i = 0; i < s.p.length; i += 2) {
      seq += s.p[i]!;
      ts += s.p[i + 1]!;
      order.processed.set(seq, ts);
    }
    for (const x of s.b) {
      const f = parseFrame(x);
      order.buffer.set(f.seq, f);
      order.weight += order.weighOf(f);
    }
    return order;
  }
}
