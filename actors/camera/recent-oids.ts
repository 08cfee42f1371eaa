import { z } from "zod";

/**
 * The second de-duplication stage (seed 004): detection ids (oid) this camera actor has already
 * tracked. JetStream's window drops re-sent frames within its 2 minutes; this catches a detection
 * sent again under another frame (a camera re-publishing after a restart, a re-send beyond the
 * window while its place in the order is still open).
 *
 * Bounded: ids older than the window (frame time, behind the newest id) are forgotten, and at most
 * `maxChars` characters of ids are kept (oldest first out), so the snapshot stays small whatever
 * ids a camera uses. Ids are remembered in processing order, which is frame time order, so
 * forgetting pops from the front.
 *
 * Snapshot: run-length frame times, and each id coded against the previous one, losslessly for
 * any string: a number d when both end in a decimal counter after the same stem and this one's
 * counter is the previous one's + d ("cam-3:f1204:7" after "cam-3:f1204:6" is 1), else the text
 * "{length of the shared prefix}:{the rest}".
 */
export const RecentOidsSnapshot = z.strictObject({
  /** [ts0, n0, ts1 - ts0, n1, ...]: n ids at each frame time */
  t: z.array(z.number().int()),
  /** one entry per id, coded against the previous one */
  k: z.array(z.union([z.number().int(), z.string()])),
});
export type RecentOidsSnapshot = z.infer<typeof RecentOidsSnapshot>;

/** Trailing decimal counter of an id that round-trips through a number (no leading zeros, safe size). */
function counterAt(oid: string): number {
  let i = oid.length;
  while (i > 0 && oid.charCodeAt(i - 1) >= 48 && oid.charCodeAt(i - 1) <= 57) i--;
  const digits = oid.length - i;
  if (digits === 0 || digits > 15 || (digits > 1 && oid.charCodeAt(i) === 48)) return -1;
  return i;
}

export class RecentOids {
  private byOid = new Set<string>();
  /** arrival order: queue[head..] are live (ids and their frame times) */
  private queue: string[] = [];
  private queueTs: number[] = [];
  private head = 0;
  private newest = Number.NEGATIVE_INFINITY;
  private chars = 0;

  constructor(private readonly windowMs: number, private readonly maxChars: number) {}

  get size(): number { return this.byOid.size; }

  has(oid: string): boolean { return this.byOid.has(oid); }

  /** Remembers oid as seen at frame time ts (ts should not go backwards). */
  add(oid: string, ts: number): void {
    if (this.maxChars === 0 || this.byOid.has(oid)) return;
    this.byOid.add(oid);
    this.queue.push(oid);
    this.queueTs.push(ts);
    this.chars += oid.length + 1;
    if (ts > this.newest) this.newest = ts;
  }

  /** Forgets ids older than the window and beyond the size cap. Call once per frame. */
  prune(): void {
    const floor = this.newest - this.windowMs;
    while (this.head < this.queue.length && (this.queueTs[this.head]! < floor || this.chars > this.maxChars)) {
      const oid = this.queue[this.head++]!;
      this.byOid.delete(oid);
      this.chars -= oid.length + 1;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.queueTs = this.queueTs.slice(this.head);
      this.head = 0;
    }
  }

  encode(): RecentOidsSnapshot {
    const t: number[] = [];
    const k: Array<number | string> = [];
    let prevTs = 0, runTs = Number.NaN, run = 0;
    let prev = "", prevCut = -1;
    for (let i = this.head; i < this.queue.length; i++) {
      const oid = this.queue[i]!, ts = this.queueTs[i]!;
      if (ts !== runTs) {
        if (run > 0) {
          t.push(runTs - prevTs, run);
          prevTs = runTs;
        }
        runTs = ts;
        run = 0;
      }
      run++;
      const cut = counterAt(oid);
      if (cut >= 0 && cut === prevCut && oid.startsWith(prev.slice(0, cut)) && prev.length - cut > 0) {
        k.push(Number(oid.slice(cut)) - Number(prev.slice(cut)));
      } else {
        let common = 0;
        const lim = Math.min(oid.length, prev.length);
        while (common < lim && oid.charCodeAt(common) === prev.charCodeAt(common)) common++;
        k.push(`${common}:${oid.slice(common)}`);
      }
      prev = oid;
      prevCut = cut;
    }
    if (run > 0) t.push(runTs - prevTs, run);
    return { t, k };
  }

  static decode(raw: unknown, windowMs: number, maxChars: number): RecentOids {
    const s = RecentOidsSnapshot.parse(raw);
    const r = new RecentOids(windowMs, maxChars);
    if (s.t.length % 2 !== 0) throw new Error("recent oids: odd number of time entries");
    let at = 0, ts = 0, prev = "";
    for (let i = 0; i < s.t.length; i += 2) {
      ts += s.t[i]!;
      for (let n = 0; n < s.t[i + 1]!; n++, at++) {
        const e = s.k[at];
        if (typeof e === "number") {
          const cut = counterAt(prev);
          if (cut < 0) throw new Error("recent oids: a counter step after an id without a counter");
          prev = prev.slice(0, cut) + String(Number(prev.slice(cut)) + e);
        } else if (typeof e === "string") {
          const colon = e.indexOf(":");
          const common = Number(e.slice(0, colon));
          if (colon < 1 || !Number.isInteger(common) || common > prev.length) throw new Error("recent oids: bad id entry");
          prev = prev.slice(0, common) + e.slice(colon + 1);
        } else {
          throw new Error("recent oids: ids and times disagree");
        }
        r.add(prev, ts);
      }
    }
    if (at !== s.k.length) throw new Error("recent oids: ids and times disagree");
    return r;
  }
}
