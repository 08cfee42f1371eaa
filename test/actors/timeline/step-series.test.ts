import { describe, expect, it } from "vitest";
import { StepSeries, sumFrom } from "../../../actors/timeline/step-series.ts";
import { Timeline } from "../../../actors/timeline/timeline.ts";
import { SiteTimelines } from "../../../actors/site/site-timelines.ts";
import { prng, randomEvents, shuffle, truthAt, truthPoints } from "../occupancy/ground-truth.ts";

function randomSeries(rnd: () => number, n: number): { series: StepSeries; points: Array<[number, number]> } {
  const points: Array<[number, number]> = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += 1 + Math.floor(rnd() * 20);
    points.push([t, Math.floor(rnd() * 10)]);
  }
  const series = new StepSeries();
  series.merge(Number.MIN_SAFE_INTEGER, 0, points, 1);
  return { series, points };
}

describe("StepSeries and sumFrom", () => {
  it("sums several step functions at every distinct instant, exactly as point-wise evaluation", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = prng(seed);
      const all = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => randomSeries(rnd, Math.floor(rnd() * 60)));
      const series = all.map((a) => a.series);
      const from = Math.floor(rnd() * 400);
      const tail = sumFrom(series, from);
      const instants = [...new Set(all.flatMap((a) => a.points.map((p) => p[0])).filter((t) => t >= from))].sort((a, b) => a - b);
      expect(tail.points.map((p) => p[0])).toEqual(instants);
      for (const [t, sum] of tail.points) {
        expect(sum).toBe(all.reduce((s, a) => s + truthAt(a.points, t), 0));
      }
      expect(tail.before).toBe(all.reduce((s, a) => s + truthAt(a.points, from - 1), 0));
    }
  });

  it("merges a tail delivered in chunks the same as in one piece", () => {
    const rnd = prng(3);
    const { series } = randomSeries(rnd, 50);
    const whole = StepSeries.decode(series.encode());
    const newTail: Array<[number, number]> = [[200, 1], [210, 2], [230, 3], [600, 4], [900, 0]];
    whole.merge(200, 7, newTail, 2);
    series.merge(200, 7, newTail.slice(0, 2), 2);
    series.merge(211, 2, newTail.slice(2), 2); // the next chunk starts just after the previous one
    expect(series.encode()).toEqual(whole.encode());
    for (let t = 0; t < 1000; t += 7) expect(series.valueAt(t)).toBe(whole.valueAt(t));
  });

  it("keeps the newest version of every instant whatever the order the tails arrive in", () => {
    const a = new StepSeries();
    const b = new StepSeries();
    const v1: [number, number, Array<[number, number]>, number] = [100, 0, [[100, 1], [200, 2]], 1];
    const v2: [number, number, Array<[number, number]>, number] = [150, 1, [[150, 0], [200, 1], [300, 2]], 2];
    a.merge(...v1); a.merge(...v2);
    b.merge(...v2); b.merge(...v1);
    for (const s of [a, b]) {
      expect([50, 100, 150, 200, 300].map((t) => s.valueAt(t))).toEqual([0, 1, 0, 1, 2]);
    }
    expect(b.encode()).toEqual(a.encode());
  });

  it("takes `before` as its base when it holds nothing earlier, and folds into base", () => {
    const s = new StepSeries();
    s.merge(100, 4, [[100, 5], [200, 6]], 1);
    expect(s.valueAt(50)).toBe(4);
    expect(s.valueAt(150)).toBe(5);
    expect(s.foldBefore(150)).toBe(1);
    expect(s.valueAt(160)).toBe(5);
    expect(s.last()).toBe(6);
  });
});

describe("SiteTimelines", () => {
  it("site total after shuffled, late, chunked space tails equals the sum of the spaces' ground truth", () => {
    for (let seed = 1; seed <= 15; seed++) {
      const rnd = prng(50 + seed);
      const spaces = ["a", "b", "c"];
      const events = new Map(spaces.map((s) => [s, randomEvents(200, rnd)]));
      const timelines = new Map(spaces.map((s) => [s, new Timeline()]));
      const site = new SiteTimelines();
      const written = new Map<number, number>();
      const deliveries = shuffle(spaces.flatMap((s) => events.get(s)!.map((e) => ({ s, e }))), rnd);
      const flush = () => {
        for (const s of spaces) {
          const tail = timelines.get(s)!.takeDirty();
          if (!tail) continue;
          // split into chunks of at most 7 points, as the space actor does with large tails
          for (let at = 0; at < tail.points.length; at += 7) {
            const points = tail.points.slice(at, at + 7);
            const prev = tail.points[at - 1];
            site.apply(s, prev ? prev[0] + 1 : tail.from, prev ? prev[1] : tail.before, points, timelines.get(s)!.version);
          }
        }
        for (const [t, c] of site.takeDirty()?.points ?? []) written.set(t, c);
      };
      deliveries.forEach(({ s, e }, i) => {
        timelines.get(s)!.insert(e.ts, e.key, e.delta);
        if (i % 23 === 0) flush();
      });
      flush();
      const truths = spaces.map((s) => truthPoints(events.get(s)!));
      const instants = [...new Set(truths.flatMap((p) => p.map((x) => x[0])))].sort((a, b) => a - b);
      const want = instants.map((t): [number, number] => [t, truths.reduce((sum, p) => sum + truthAt(p, t), 0)]);
      expect([...written.entries()].sort((a, b) => a[0] - b[0])).toEqual(want);
      expect(site.total()).toBe(want[want.length - 1]![1]);
      const back = SiteTimelines.decode(JSON.parse(JSON.stringify(site.encode())));
      for (const [t, c] of want) expect(back.totalAt(t)).toBe(c);
    }
  });

  it("tails that reach the site out of order (a publish retried after an outage) still give the exact totals", () => {
    for (let seed = 1; seed <= 15; seed++) {
      const rnd = prng(90 + seed);
      const spaces = ["a", "b", "c"];
      const events = new Map(spaces.map((s) => [s, randomEvents(150, rnd)]));
      const timelines = new Map(spaces.map((s) => [s, new Timeline()]));
      const sent: Array<{ s: string; from: number; before: number; points: Array<[number, number]>; version: number }> = [];
      const deliveries = shuffle(spaces.flatMap((s) => events.get(s)!.map((e) => ({ s, e }))), rnd);
      const flush = () => {
        for (const s of spaces) {
          const tail = timelines.get(s)!.takeDirty();
          if (tail) sent.push({ s, from: tail.from, before: tail.before, points: tail.points.map(([t, c]): [number, number] => [t, c]), version: timelines.get(s)!.version });
        }
      };
      deliveries.forEach(({ s, e }, i) => {
        timelines.get(s)!.insert(e.ts, e.key, e.delta);
        if (i % 17 === 0) flush();
      });
      flush();
      const site = new SiteTimelines();
      // every tail arrives, but in a random order, some twice
      for (const m of shuffle([...sent, ...sent.filter(() => rnd() < 0.2)], rnd)) site.apply(m.s, m.from, m.before, m.points, m.version);
      const truths = spaces.map((s) => truthPoints(events.get(s)!));
      const instants = [...new Set(truths.flatMap((p) => p.map((x) => x[0])))].sort((a, b) => a - b);
      for (const t of instants) expect(site.totalAt(t)).toBe(truths.reduce((sum, p) => sum + truthAt(p, t), 0));
      expect(site.totalAt(instants[0]! - 1)).toBe(0);
    }
  });

  it("keeps at most maxEntries points in all, the totals after the folded part exact", () => {
    const rnd = prng(5);
    const spaces = ["a", "b", "c", "d"];
    const events = new Map(spaces.map((s) => [s, randomEvents(1_500, rnd)]));
    const site = new SiteTimelines();
    for (const s of spaces) {
      const tl = new Timeline();
      for (const e of events.get(s)!) tl.insert(e.ts, e.key, e.delta);
      const tail = tl.takeDirty()!;
      site.apply(s, tail.from, tail.before, tail.points, tl.version);
    }
    site.takeDirty();
    expect(site.compact(Number.POSITIVE_INFINITY, true, 2_000)).toBeGreaterThan(0);
    const truths = spaces.map((s) => truthPoints(events.get(s)!));
    const instants = [...new Set(truths.flatMap((p) => p.map((x) => x[0])))].filter((t) => t >= site.floorTs!);
    expect(instants.length).toBeLessThanOrEqual(2_000);
    expect(instants.length).toBeGreaterThan(1_000);
    for (const t of instants) expect(site.totalAt(t)).toBe(truths.reduce((sum, p) => sum + truthAt(p, t), 0));
  });

  it("after compaction keeps totals exact from the floor on and applies an older tail only from there", () => {
    const site = new SiteTimelines();
    site.apply("a", 0, 0, [[0, 1], [10, 2], [20, 3], [30, 4]], 1);
    site.apply("b", 5, 0, [[5, 1], [25, 2]], 1);
    site.takeDirty();
    expect(site.compact(12, false)).toBe(3); // a@0, a@10, b@5 are older than 30 - 12
    expect(site.floorTs).toBe(18);
    expect(site.totalAt(18)).toBe(3);
    expect(site.totalAt(26)).toBe(5);
    // a correction of "a" from 8: only [18, ...) can still be applied
    const { partial } = site.apply("a", 8, 1, [[8, 0], [10, 1], [20, 2], [30, 3]], 2);
    expect(partial).toBe(true);
    const tail = site.takeDirty()!;
    expect(tail.from).toBe(18);
    expect(tail.before).toBe(1 + 1);
    expect(tail.points).toEqual([[20, 3], [25, 4], [30, 5]]);
    expect(site.total()).toBe(5);
  });
});
