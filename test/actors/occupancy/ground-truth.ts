/** Reference semantics for the occupancy tests: the obvious, slow way. */
export interface TruthEvent { ts: number; key: string; delta: 1 | -1 }

/** Deduplicated by key (first wins), sorted by (ts, key). */
export function onTimeOrder(events: readonly TruthEvent[]): TruthEvent[] {
  const byKey = new Map<string, TruthEvent>();
  for (const e of events) if (!byKey.has(e.key)) byKey.set(e.key, e);
  return [...byKey.values()].sort((a, b) => a.ts - b.ts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** [ts, count after every event at ts] for each distinct ts, counts clamped at 0 after every event. */
export function truthPoints(events: readonly TruthEvent[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let count = 0;
  const sorted = onTimeOrder(events);
  sorted.forEach((e, i) => {
    count = Math.max(0, count + e.delta);
    if (sorted[i + 1]?.ts !== e.ts) out.push([e.ts, count]);
  });
  return out;
}

/** The count at instant t: after all events with ts <= t. */
export function truthAt(points: ReadonlyArray<readonly [number, number]>, t: number): number {
  let v = 0;
  for (const [ts, c] of points) {
    if (ts > t) break;
    v = c;
  }
  return v;
}

/** Deterministic PRNG for the tests (the simulator's). */
export { mulberry32 as prng } from "../../../firmware-sim/random.ts";

export function shuffle<T>(items: T[], rnd: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** n events with ties in ts, deltas biased towards +1 early so counts rise and fall through 0. */
export function randomEvents(n: number, rnd: () => number, t0 = 1_700_000_000_000, span = 5_000): TruthEvent[] {
  const out: TruthEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ ts: t0 + Math.floor(rnd() * span), key: `dev${i % 3}:e${i}`, delta: rnd() < 0.55 ? 1 : -1 });
  }
  return out;
}
