/**
 * Short trails of live people (pure): each person's recent floor positions, newest last, bounded
 * in time and in points. Positions arrive as person.update events, possibly out of order or
 * repeated after a reconnect; older ones than the newest held are ignored.
 */
export type TrailPoint = readonly [ts: number, x: number, y: number];

export interface TrailOptions {
  /** points older than the newest minus this are dropped (ms) */
  keepMs: number;
  /** at most this many points per person */
  maxPoints: number;
  /** a point closer than this to the previous one replaces it (metres) */
  minStepM: number;
}

export const DEFAULT_TRAILS: TrailOptions = { keepMs: 8_000, maxPoints: 24, minStepM: 0.15 };

export class Trails {
  private readonly byId = new Map<string, TrailPoint[]>();
  constructor(private readonly o: TrailOptions = DEFAULT_TRAILS) {}

  /** Adds a position; false when it was older than (or as old as) the newest held, and ignored. */
  add(id: string, ts: number, x: number, y: number): boolean {
    let t = this.byId.get(id);
    if (!t) { t = []; this.byId.set(id, t); }
    const last = t[t.length - 1];
    if (last && ts <= last[0]) return false;
    if (last && Math.hypot(x - last[1], y - last[2]) < this.o.minStepM && t.length > 1) {
      // standing still: move the newest point's time instead of piling up points
      t[t.length - 1] = [ts, x, y];
    } else {
      t.push([ts, x, y]);
    }
    const oldest = ts - this.o.keepMs;
    let drop = 0;
    while (drop < t.length - 1 && t[drop]![0] < oldest) drop++;
    if (t.length - drop > this.o.maxPoints) drop = t.length - this.o.maxPoints;
    if (drop > 0) t.splice(0, drop);
    return true;
  }

  get(id: string): readonly TrailPoint[] {
    return this.byId.get(id) ?? [];
  }

  newest(id: string): TrailPoint | undefined {
    const t = this.byId.get(id);
    return t?.[t.length - 1];
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  get size(): number {
    return this.byId.size;
  }
}

/**
 * The position of a recorded path ([ts, x, y] in time order) at instant t, linearly interpolated
 * between its points; undefined outside [first, last] (the person was not there then).
 */
export function positionAt(path: readonly TrailPoint[], t: number): [number, number] | undefined {
  if (path.length === 0 || t < path[0]![0] || t > path[path.length - 1]![0]) return undefined;
  let lo = 0, hi = path.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (path[mid]![0] <= t) lo = mid; else hi = mid;
  }
  const a = path[lo]!, b = path[hi]!;
  if (b[0] === a[0]) return [b[1], b[2]];
  const f = (t - a[0]) / (b[0] - a[0]);
  return [a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** The part of a path in [t - spanMs, t], ending at the interpolated position at t. */
export function trailBefore(path: readonly TrailPoint[], t: number, spanMs: number): TrailPoint[] {
  const end = positionAt(path, t);
  if (!end) return [];
  const out: TrailPoint[] = path.filter((p) => p[0] >= t - spanMs && p[0] < t).map((p) => [p[0], p[1], p[2]] as const);
  out.push([t, end[0], end[1]]);
  return out;
}
