import { describe, expect, it } from "vitest";
import { FrameOrder, type Release } from "../../../actors/camera/frame-order.ts";
import { RecentOids } from "../../../actors/camera/recent-oids.ts";

interface F { seq: number; frameTs: number; receivedAt: number }
const T = 1_700_000_000_000;
/** frame seq at 10 fps, received 50 ms after capture (plus `delay`) */
const fr = (seq: number, delay = 0, tsOffset = 0): F => ({ seq, frameTs: T + seq * 100 + tsOffset, receivedAt: T + seq * 100 + 50 + delay });

function run(order: FrameOrder<F>, frames: F[]) {
  const ready: number[] = [], late: number[] = [], outcomes: string[] = [];
  for (const f of frames) {
    const out: Release<F> = { ready: [], late: [] };
    outcomes.push(order.offer(f, out));
    ready.push(...out.ready.map((x) => x.seq));
    late.push(...out.late.map((x) => x.seq));
  }
  return { ready, late, outcomes };
}

const opts = { reorderMs: 1000, maxBuffered: 100, memoryMs: 10_000 };

describe("frame order", () => {
  it("passes frames in order straight through, and ignores duplicates (processed or buffered)", () => {
    const o = new FrameOrder<F>(opts);
    const r = run(o, [fr(0), fr(1), fr(1), fr(2), fr(4), fr(4), fr(0), fr(3)]);
    expect(r.ready).toEqual([0, 1, 2, 3, 4]);
    expect(r.outcomes).toEqual(["accepted", "accepted", "duplicate", "accepted", "accepted", "duplicate", "duplicate", "accepted"]);
    expect(o.buffered).toBe(0);
  });

  it("puts shuffled frames back in seq order", () => {
    const o = new FrameOrder<F>(opts);
    const r = run(o, [0, 2, 3, 1, 5, 6, 4, 9, 8, 7].map((s) => fr(s)));
    expect(r.ready).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.late).toEqual([]);
  });

  it("gives a gap up after reorderMs of frame time and counts the frame that comes later as late", () => {
    const o = new FrameOrder<F>(opts);
    // 3 is missing: 4..11 wait; 12 is 1000 ms past 3's predecessor 2 -> the gap is given up
    const r = run(o, [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11].map((s) => fr(s)));
    expect(r.ready).toEqual([0, 1, 2]);
    const r2 = run(o, [fr(12)]);
    expect(r2.ready).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const r3 = run(o, [fr(3)]);
    expect(r3.outcomes).toEqual(["late"]);
    expect(r3.ready).toEqual([]);
  });

  it("gives gaps up one at a time: a later gap still waits for its frame", () => {
    const o = new FrameOrder<F>(opts);
    // 1 and 8 missing; 11 (1100 ms after 0) gives up gap 1, but 9..11 wait for 8 (only 400 ms past 7)
    const r = run(o, [0, 2, 3, 4, 5, 6, 7, 9, 10, 11].map((s) => fr(s)));
    expect(r.ready).toEqual([0, 2, 3, 4, 5, 6, 7]);
    expect(run(o, [fr(8)]).ready).toEqual([8, 9, 10, 11]);
  });

  it("accepts a restarted counter (lower seq, newer frame time) after releasing what it buffered", () => {
    const o = new FrameOrder<F>(opts);
    run(o, [fr(100), fr(101), fr(103)]);
    const restart = { seq: 0, frameTs: T + 60_000, receivedAt: T + 60_050 };
    const out: Release<F> = { ready: [], late: [] };
    expect(o.offer(restart, out)).toBe("accepted");
    expect(out.ready.map((f) => f.seq)).toEqual([103, 0]);
    // an old-counter frame coming after the restart is late, and does not block the new counter's seq 102
    const next = run(o, [{ seq: 1, frameTs: T + 60_100, receivedAt: T + 60_150 }, fr(102)]);
    expect(next.ready).toEqual([1]);
    expect(next.outcomes).toEqual(["accepted", "late"]);
    expect(o.buffered).toBe(0);
  });

  it("refuses a frame in sequence that goes back in frame time", () => {
    const o = new FrameOrder<F>(opts);
    const r = run(o, [fr(0), fr(1), fr(2, 0, -500), fr(3)]);
    expect(r.outcomes).toEqual(["accepted", "accepted", "late", "accepted"]);
    expect(r.ready).toEqual([0, 1, 3]);
  });

  it("releases an old buffer at flush by receive time, not before", () => {
    const o = new FrameOrder<F>(opts);
    run(o, [fr(0), fr(2), fr(3)]);
    const early: Release<F> = { ready: [], late: [] };
    o.releaseStale(T + 250 + 1000, early);
    expect(early.ready).toEqual([]);
    const late: Release<F> = { ready: [], late: [] };
    o.releaseStale(T + 250 + 1001, late);
    expect(late.ready.map((f) => f.seq)).toEqual([2, 3]);
    expect(o.buffered).toBe(0);
  });

  it("caps the buffer", () => {
    const o = new FrameOrder<F>({ ...opts, reorderMs: 1_000_000, maxBuffered: 5 });
    const r = run(o, [0, 2, 3, 4, 5, 6, 7].map((s) => fr(s)));
    expect(r.ready).toEqual([0, 2, 3, 4, 5, 6, 7]);
  });

  it("survives encode -> JSON -> decode with its buffer and memory", () => {
    const o = new FrameOrder<F>(opts);
    run(o, [fr(0), fr(1), fr(3), fr(4)]);
    const d = FrameOrder.decode<F>(JSON.parse(JSON.stringify(o.encode())), opts, (x) => x as F);
    const r = run(d, [fr(1), fr(2), fr(0)]);
    expect(r.outcomes).toEqual(["duplicate", "accepted", "duplicate"]);
    expect(r.ready).toEqual([2, 3, 4]);
    run(o, [fr(1), fr(2), fr(0)]);
    expect(d.encode()).toEqual(o.encode());
  });

  it("forgets processed frames after memoryMs (a very old re-send is then late, not a duplicate)", () => {
    const o = new FrameOrder<F>({ ...opts, memoryMs: 500 });
    run(o, Array.from({ length: 20 }, (_, i) => fr(i)));
    expect(run(o, [fr(18)]).outcomes).toEqual(["duplicate"]);
    expect(run(o, [fr(2)]).outcomes).toEqual(["late"]);
    expect((o.encode().p.length) / 2).toBeLessThanOrEqual(7);
  });
});

describe("recent detection ids", () => {
  it("remembers ids within the window and the size cap, and round-trips compactly", () => {
    const r = new RecentOids(1000, 100_000);
    for (let f = 0; f < 30; f++) {
      for (let d = 0; d < 12; d++) r.add(`cam-1:${f}:${d}`, T + f * 100);
      r.prune();
    }
    expect(r.has("cam-1:29:11")).toBe(true);
    expect(r.has("cam-1:19:0")).toBe(true);
    expect(r.has("cam-1:18:0")).toBe(false);
    expect(r.size).toBe(11 * 12);
    const enc = r.encode();
    const d = RecentOids.decode(JSON.parse(JSON.stringify(enc)), 1000, 100_000);
    expect(d.encode()).toEqual(enc);
    for (let f = 19; f < 30; f++) for (let k = 0; k < 12; k++) expect(d.has(`cam-1:${f}:${k}`)).toBe(true);
    expect(d.has("cam-1:18:11")).toBe(false);
    // counters and shared prefixes are not repeated: ~3 characters per id here (ids are 9-11)
    expect(JSON.stringify(enc).length).toBeLessThan(r.size * 4);
    // the cap counts characters: 10 ids of 3 characters (+1 each) fit in 40
    const capped = new RecentOids(1_000_000, 40);
    for (let i = 10; i < 35; i++) capped.add(`x${i}`, T + i);
    capped.prune();
    expect(capped.size).toBe(10);
    expect(capped.has("x34") && capped.has("x25") && !capped.has("x24")).toBe(true);
    // ids of any shape survive: no counter, leading zeros, huge counters, colons, empty, non-ASCII
    const odd = ["", "a", "ab", "b", "ü:1", "x y", "f007", "f008", "f9", "f10", "n123456789012345678", "n123456789012345679", "3:4", "3:5", "a-1", "a-2", "a-0"];
    const o = new RecentOids(1000, 100_000);
    odd.forEach((id, i) => o.add(id, T + Math.floor(i / 3)));
    const back = RecentOids.decode(JSON.parse(JSON.stringify(o.encode())), 1000, 100_000);
    for (const id of odd) expect(back.has(id), id).toBe(true);
    expect(back.size).toBe(odd.length);
    expect(back.encode()).toEqual(o.encode());
  });
});
