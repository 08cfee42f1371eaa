/**
 * A person's visits to spaces, from the space of each per-second bin: consecutive bins in the
 * same space form one visit [enter, leave). A gap without observations keeps the space while
 * both sides of it are in the same one. Where the space changes between two bins, the person
 * crossed the outline somewhere on the way: the switch is put at the instant the straight line
 * between the two bins' mean positions (at their mean times) leaves the first space, rounded to
 * the second and kept between the first bin's second and the second bin's start (`switchAt`).
 * Without `switchAt` the switch is the second bin's start. The last visit leaves one second
 * after its last bin. Bins outside every outline (space undefined) belong to no visit.
 */

/** [space, enter, leave) in epoch ms */
export type Visit = [string, number, number];

export function visits(t: readonly number[], spaces: ReadonlyArray<string | undefined>, switchAt?: (i: number) => number): Visit[] {
  const out: Visit[] = [];
  let current: string | undefined, enter = 0;
  for (let i = 0; i < t.length; i++) {
    const s = spaces[i];
    if (i > 0 && s === current) continue;
    const at = i === 0 ? t[0]! : Math.min(t[i]!, Math.max(t[i - 1]! + 1000, switchAt ? switchAt(i) : t[i]!));
    if (current !== undefined) out.push([current, enter, at]);
    current = s;
    enter = at;
  }
  if (current !== undefined) out.push([current, enter, t[t.length - 1]! + 1000]);
  return out;
}

/**
 * The instant (ms, rounded to the second) at which the straight move from (t0, p0) to (t1, p1)
 * leaves the space p0 is in, by bisection (a dozen point-in-polygon tests).
 */
export function leaveInstant(
  t0: number, p0: [number, number], t1: number, p1: [number, number], spaceAt: (p: [number, number]) => string | undefined,
): number {
  const from = spaceAt(p0);
  let lo = 0, hi = 1;
  for (let k = 0; k < 12; k++) {
    const f = (lo + hi) / 2;
    if (spaceAt([p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1])]) === from) lo = f; else hi = f;
  }
  return Math.round((t0 + hi * (t1 - t0)) / 1000) * 1000;
}

/** Visits grouped by space as [enter, leave) pairs, in time order. */
export function bySpace(vs: readonly Visit[]): Map<string, Array<[number, number]>> {
  const out = new Map<string, Array<[number, number]>>();
  for (const [space, enter, leave] of vs) {
    let list = out.get(space);
    if (!list) out.set(space, (list = []));
    list.push([enter, leave]);
  }
  return out;
}
