import type { FloorObs } from "../../contracts/track-messages.ts";

/**
 * Small helpers on time-ordered floor observations [ts, x, y] (ms, metres): where was someone
 * at an instant, how fast were they going, keep a short window of the newest ones.
 */

export const dist = (ax: number, ay: number, bx: number, by: number) => Math.hypot(ax - bx, ay - by);

/** Inserts keeping `obs` sorted by ts (usually an append). */
export function insertByTs(obs: FloorObs[], o: FloorObs): void {
  let i = obs.length;
  while (i > 0 && obs[i - 1]![0] > o[0]) i--;
  if (i === obs.length) obs.push(o);
  else obs.splice(i, 0, o);
}

/**
 * The position at `ts` from sorted `obs`: interpolated inside their span, the nearest end within
 * `tolMs` outside it, else undefined.
 */
export function positionAt(obs: readonly FloorObs[], ts: number, tolMs: number): [number, number] | undefined {
  const n = obs.length;
  if (n === 0) return undefined;
  const first = obs[0]!, last = obs[n - 1]!;
  if (ts <= first[0]) return first[0] - ts <= tolMs ? [first[1], first[2]] : undefined;
  if (ts >= last[0]) return ts - last[0] <= tolMs ? [last[1], last[2]] : undefined;
  let lo = 0, hi = n - 1; // obs[lo].ts < ts <= obs[hi].ts
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (obs[mid]![0] < ts) lo = mid; else hi = mid;
  }
  const a = obs[lo]!, b = obs[hi]!;
  const f = b[0] === a[0] ? 1 : (ts - a[0]) / (b[0] - a[0]);
  return [a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

/**
 * Velocity (m/s) over the newest `windowMs` of sorted `obs`; [0, 0] when they span less than
 * `minSpanMs` (too short to tell).
 */
export function velocity(obs: readonly FloorObs[], windowMs = 1500, minSpanMs = 300): [number, number] {
  const n = obs.length;
  if (n < 2) return [0, 0];
  const last = obs[n - 1]!;
  let i = n - 1;
  while (i > 0 && obs[i - 1]![0] >= last[0] - windowMs) i--;
  const first = obs[i]!;
  const dt = last[0] - first[0];
  if (dt < minSpanMs) return [0, 0];
  return [((last[1] - first[1]) * 1000) / dt, ((last[2] - first[2]) * 1000) / dt];
}

/** The newest observation at or before `ts`, else the oldest one (undefined when empty). */
export function latestAtOrBefore(obs: readonly FloorObs[], ts: number): FloorObs | undefined {
  for (let i = obs.length - 1; i >= 0; i--) if (obs[i]![0] <= ts) return obs[i];
  return obs[0];
}

/** Drops the oldest entries beyond `max` (in place). */
export function keepNewest(obs: FloorObs[], max: number): void {
  if (obs.length > max) obs.splice(0, obs.length - max);
}

/** Drops entries older than `newestTs - windowMs`, keeping at least `keep` (in place). */
export function keepWindow(obs: FloorObs[], windowMs: number, keep = 2): void {
  const n = obs.length;
  if (n <= keep) return;
  const floor = obs[n - 1]![0] - windowMs;
  let drop = 0;
  while (drop < n - keep && obs[drop]![0] < floor) drop++;
  if (drop > 0) obs.splice(0, drop);
}
