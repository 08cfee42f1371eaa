import { describe, expect, it } from "vitest";
import { Timeline } from "../../../actors/timeline/timeline.ts";
import { onTimeOrder, prng, randomEvents, shuffle, truthAt, truthPoints, type TruthEvent } from "../occupancy/ground-truth.ts";

/** Applies tails the way InfluxDB does: same timestamp overwrites. */
function applyTail(store: Map<number, number>, tail: { points: Array<[number, number]> } | undefined) {
  for (const [t, c] of tail?.points ?? []) store.set(t, c);
}

/** Delivers events in the given order, with re-sends, taking the dirty tail after random batches. */
function deliver(events: TruthEvent[], rnd: () => number, store: Map<number, number>, tl = new Timeline()): Timeline {
  for (const e of events) {
    tl.insert(e.ts, e.key, e.delta);
    if (rnd() < 0.1) applyTail(store, tl.takeDirty());
  }
  applyTail(store, tl.takeDirty());
  return tl;
}

describe("Timeline", () => {
  it("gives the same per-timestamp counts for shuffled, duplicated delivery as for sorted on-time delivery", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = prng(seed);
      const events = randomEvents(300 + Math.floor(rnd() * 300), rnd);
      const truth = truthPoints(events);
      const resent = events.filter(() => rnd() < 0.2);
      const delivery = shuffle([...events, ...resent], rnd);

      const store = new Map<number, number>();
      const tl = deliver(delivery, rnd, store);

      expect(tl.tailFrom(Number.MIN_SAFE_INTEGER).points).toEqual(truth);
      // what the flushed writes left behind (overwrites included) is exactly the truth
      expect([...store.entries()].sort((a, b) => a[0] - b[0])).toEqual(truth);
      for (let i = 0; i < 20; i++) {
        const t = events[Math.floor(rnd() * events.length)]!.ts + Math.floor(rnd() * 3) - 1;
        expect(tl.countAt(t)).toBe(truthAt(truth, t));
      }
      expect(tl.current()).toBe(truth[truth.length - 1]![1]);
      expect(tl.size).toBe(new Set(events.map((e) => e.key)).size);
    }
  });

  it("refuses a replayed event as duplicate and changes nothing", () => {
    const tl = new Timeline();
    expect(tl.insert(100, "a:1", 1)).toBe("inserted");
    expect(tl.insert(200, "a:2", 1)).toBe("inserted");
    tl.takeDirty();
    expect(tl.insert(100, "a:1", 1)).toBe("duplicate");
    expect(tl.takeDirty()).toBeUndefined();
    expect(tl.current()).toBe(2);
  });

  it("clamps at zero after every event, in event-time order", () => {
    const tl = new Timeline();
    tl.insert(10, "a:1", -1);
    tl.insert(20, "a:2", -1);
    tl.insert(30, "a:3", 1);
    expect(tl.tailFrom(0).points).toEqual([[10, 0], [20, 0], [30, 1]]);
    // a late +1 before them: the first -1 now takes it back out, the second is clamped
    tl.insert(5, "a:0", 1);
    expect(tl.tailFrom(0).points).toEqual([[5, 1], [10, 0], [20, 0], [30, 1]]);
    // a late +1 between them
    tl.insert(15, "a:9", 1);
    expect(tl.tailFrom(0).points).toEqual([[5, 1], [10, 0], [15, 1], [20, 0], [30, 1]]);
  });

  it("a late event marks every later point dirty and the tail carries the corrected counts", () => {
    const tl = new Timeline();
    for (let i = 1; i <= 5; i++) tl.insert(i * 1000, `d:${i}`, 1);
    expect(tl.takeDirty()).toEqual({ from: 1000, before: 0, points: [[1000, 1], [2000, 2], [3000, 3], [4000, 4], [5000, 5]] });
    tl.insert(2500, "d:late", -1);
    expect(tl.takeDirty()).toEqual({ from: 2500, before: 2, points: [[2500, 1], [3000, 2], [4000, 3], [5000, 4]] });
    // an on-time event only dirties itself
    tl.insert(6000, "d:6", 1);
    expect(tl.takeDirty()).toEqual({ from: 6000, before: 4, points: [[6000, 5]] });
  });

  it("orders events with the same ts by key and reports one point per distinct ts", () => {
    const tl = new Timeline();
    tl.insert(100, "b", -1);
    tl.insert(100, "a", 1);
    tl.insert(100, "c", 1);
    // (a +1) (b -1) (c +1): 1, 0, 1 -> one point holding 1
    expect(tl.tailFrom(0)).toEqual({ from: 0, before: 0, points: [[100, 1]] });
    const other = new Timeline();
    other.insert(100, "b", -1); // clamped first when b sorts first
    other.insert(100, "c", 1);
    other.insert(100, "a", 1);
    expect(other.tailFrom(0).points).toEqual([[100, 1]]);
  });

  it("compaction folds old events into base and keeps every later count exact", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(100 + seed);
      const horizon = 500;
      // mostly on time with jitter well inside the horizon
      const events: TruthEvent[] = [];
      for (let i = 0; i < 2000; i++) {
        events.push({ ts: 1_000_000 + i * 10 + Math.floor(rnd() * 5), key: `k:${i}`, delta: rnd() < 0.52 ? 1 : -1 });
      }
      const delivery = events.map((e, i) => ({ e, at: i * 10 + rnd() * 300 })).sort((a, b) => a.at - b.at).map((x) => x.e);
      const tl = new Timeline();
      const store = new Map<number, number>();
      let folded = 0;
      delivery.forEach((e, i) => {
        expect(tl.insert(e.ts, e.key, e.delta)).toBe("inserted");
        if (i % 50 === 49) {
          applyTail(store, tl.takeDirty());
          folded += tl.compact(horizon, false);
        }
      });
      applyTail(store, tl.takeDirty());
      expect(folded).toBeGreaterThan(1000);
      expect(tl.size).toBeLessThan(events.length);
      const truth = truthPoints(events);
      expect([...store.entries()].sort((a, b) => a[0] - b[0])).toEqual(truth);
      const floor = tl.floorTs!;
      for (const [t] of truth.filter(([t]) => t > floor)) expect(tl.countAt(t)).toBe(truthAt(truth, t));
      // a re-send of a folded event, or any event at or before the floor, can no longer count
      expect(tl.insert(events[0]!.ts, events[0]!.key, events[0]!.delta)).toBe("too-late");
      expect(tl.insert(floor, "new:1", 1)).toBe("too-late");
      expect(tl.current()).toBe(truth[truth.length - 1]![1]);
    }
  });

  it("lazy compaction waits until folding is worth it", () => {
    const tl = new Timeline();
    for (let i = 0; i < 100; i++) tl.insert(i, `k:${i}`, 1);
    tl.takeDirty();
    // 10 foldable of 100: not yet
    expect(tl.compact(89)).toBe(0);
    // 30 of 100: a quarter or more, fold
    expect(tl.compact(69)).toBe(30);
    expect(tl.floorTs).toBe(29);
    expect(tl.countAt(30)).toBe(31);
  });

  it("never folds a change that has not been taken yet", () => {
    const tl = new Timeline();
    for (let i = 0; i < 100; i++) tl.insert(i * 10, `k:${i}`, 1);
    tl.takeDirty();
    tl.insert(15, "late", -1);
    expect(tl.compact(100, false)).toBe(2); // events at 0 and 10 only: the late one at 15 is still dirty
    expect(tl.takeDirty()!.from).toBe(15);
  });

  it("survives encode/decode (through JSON) mid-stream, dirty state and floor included", () => {
    const rnd = prng(7);
    const events = randomEvents(800, rnd);
    const delivery = shuffle([...events, ...events.slice(0, 100)], rnd);
    const store = new Map<number, number>();
    let tl = new Timeline();
    delivery.forEach((e, i) => {
      tl.insert(e.ts, e.key, e.delta);
      if (i % 97 === 0) applyTail(store, tl.takeDirty());
      if (i % 131 === 0) tl = Timeline.decode(JSON.parse(JSON.stringify(tl.encode())));
    });
    applyTail(store, tl.takeDirty());
    const truth = truthPoints(events);
    expect([...store.entries()].sort((a, b) => a[0] - b[0])).toEqual(truth);
    expect(tl.tailFrom(0).points).toEqual(truth);

    const folded = new Timeline();
    for (let i = 0; i < 10; i++) folded.insert(i, `x:${i}`, 1);
    folded.takeDirty();
    expect(folded.compact(5, false)).toBe(4); // ts 0..3 are older than 9 - 5
    const back = Timeline.decode(JSON.parse(JSON.stringify(folded.encode())));
    expect(back.floorTs).toBe(3);
    expect(back.insert(3, "y", 1)).toBe("too-late");
    expect(back.insert(9, "x:9", 1)).toBe("duplicate");
    expect(back.current()).toBe(10);
  });

  it("refuses a snapshot that is not one, with the reason", () => {
    expect(() => Timeline.decode({ v: 1, base: -1 })).toThrow();
    const good = new Timeline();
    good.insert(1, "a", 1);
    const enc = good.encode();
    expect(() => Timeline.decode({ ...enc, d: "++" })).toThrow(/different lengths/);
  });
  it("keeps at most maxEntries events: counts after the folded part stay exact, older events are refused", () => {
    const rnd = prng(77);
    const events = randomEvents(5_000, rnd);
    const truth = truthPoints(events);
    const tl = new Timeline();
    const store = new Map<number, number>();
    for (const e of onTimeOrder(events)) {
      tl.insert(e.ts, e.key, e.delta);
      applyTail(store, tl.takeDirty());
      tl.compact(Number.POSITIVE_INFINITY, true, 1_000);
    }
    expect(tl.size).toBeLessThanOrEqual(1_000);
    expect(tl.floorTs).toBeDefined();
    for (const [t, c] of truth) {
      if (t > tl.floorTs!) expect(tl.countAt(t), `count at ${t}`).toBe(c);
      expect(store.get(t), `point at ${t}`).toBe(c);
    }
    expect(tl.insert(tl.floorTs!, "late:1", 1)).toBe("too-late");
  });
});
