/**
 * Seeded randomness for the simulator: the same seed gives the same building run.
 * mulberry32 (a 32-bit state generator): small, fast and good enough for simulation.
 */
export type Rng = () => number;

/** A generator of uniform numbers in [0, 1) for a 32-bit seed. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An independent seed for one purpose ("skew", "dup:dpu-3", ...) derived from a run's seed. */
export function deriveSeed(seed: number, purpose: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < purpose.length; i++) {
    h ^= purpose.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // one extra avalanche round so near seeds give unrelated streams
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** Uniform real in [lo, hi). */
export const uniform = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();

/** Exponentially distributed value with the given mean. */
export const exponential = (rng: Rng, mean: number) => -mean * Math.log(1 - rng());

/** True with probability p. */
export const chance = (rng: Rng, p: number) => rng() < p;

/** One element of a non-empty list. */
export function pickOne<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError("pickOne needs a non-empty list");
  return items[Math.floor(rng() * items.length)]!;
}

/** Fisher-Yates shuffle in place; returns the same array. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}
