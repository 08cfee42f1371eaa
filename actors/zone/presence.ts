import { z } from "zod";
import { LineId } from "../../contracts/topology.ts";
import { visitPointNs } from "../../contracts/track-store.ts";

/**
 * What a zone actor knows: per person the newest ZonePersonMsg content (visits, line crossings,
 * ended), and derived from it the per-second camera-based occupancy count(t) = #visits with
 * enter <= t < leave, and per-second in/out counts per line. Replacing a person's record applies
 * only the difference between its old and new visit intervals (a sweep over their boundaries),
 * so extending an open visit by a second touches one second, not the whole visit. The seconds,
 * line seconds and visit points that changed are collected for the next flush.
 */

export type Span = [number, number];
export type LineCrossing = [string, number, 1 | -1];

export interface ZonePerson {
  version: number;
  visits: Span[];
  crossings: LineCrossing[];
  ended: boolean;
  /** newest instant of any version seen (visit leave, crossing ts): when the person may be forgotten */
  lastTs: number;
}

/** The fields of a zone_visit point; a retracted visit is rewritten with leave = enter and dwell_s = 0. */
export interface VisitFields { person: string; enter: number; leave: number; dwell_s: number }

export interface ZoneState {
  persons: Map<string, ZonePerson>;
  /** newest instant seen (visit leave or crossing) */
  newest: number;
  /** stream instant of the next pruning of forgotten persons and old seconds */
  nextPrune: number;
  /** second (ms) -> count, only seconds with a count > 0 (derived, rebuilt on decode) */
  counts: Map<number, number>;
  /** line -> second (ms) -> [in, out] (derived, rebuilt on decode) */
  lines: Map<string, Map<number, [number, number]>>;
  /** to write at the next flush */
  dirtySeconds: Set<number>;
  dirtyLines: Map<string, Set<number>>;
  visitPoints: Map<string, VisitFields>;
}

export const initialZoneState = (): ZoneState => ({
  persons: new Map(), newest: 0, nextPrune: 0, counts: new Map(), lines: new Map(),
  dirtySeconds: new Set(), dirtyLines: new Map(), visitPoints: new Map(),
});

const sec = (ms: number) => Math.floor(ms / 1000) * 1000;
const secCeil = (ms: number) => Math.ceil(ms / 1000) * 1000;

/**
 * Replaces a person's record by `next` (the caller checked the version is newer). Seconds
 * before `floor` are neither counted nor marked: history that old is no longer kept. Returns how
 * many changed seconds were before the floor.
 */
export function replacePerson(s: ZoneState, person: string, next: ZonePerson, floor: number): number {
  const prev = s.persons.get(person);
  s.persons.set(person, next);
  let late = applyVisitDiff(s, prev?.visits ?? [], next.visits, floor, true);
  late += applyCrossingDiff(s, prev?.crossings ?? [], next.crossings, floor, true);
  diffVisitPoints(s, person, prev, next);
  return late;
}

/** Sweeps the boundaries of old (-1) and new (+1) intervals; applies non-zero differences per second. */
function applyVisitDiff(s: ZoneState, old: readonly Span[], now: readonly Span[], floor: number, mark: boolean): number {
  const events: Array<[number, number]> = [];
  for (const [a, b] of old) events.push([a, -1], [b, +1]);
  for (const [a, b] of now) events.push([a, +1], [b, -1]);
  events.sort((x, y) => x[0] - y[0]);
  let late = 0, delta = 0;
  for (let i = 0; i < events.length; i++) {
    delta += events[i]![1];
    const from = events[i]![0];
    const to = events[i + 1]?.[0];
    if (delta === 0 || to === undefined || to <= from) continue;
    for (let t = secCeil(from); t < to; t += 1000) {
      if (t < floor) { late++; continue; }
      const c = (s.counts.get(t) ?? 0) + delta;
      if (c > 0) s.counts.set(t, c); else s.counts.delete(t);
      if (mark) s.dirtySeconds.add(t);
    }
  }
  return late;
}

function applyCrossingDiff(s: ZoneState, old: readonly LineCrossing[], now: readonly LineCrossing[], floor: number, mark: boolean): number {
  const delta = new Map<string, [string, number, number, number]>();
  const add = ([line, ts, dir]: LineCrossing, k: number) => {
    const t = sec(ts);
    const key = `${line}\u0000${t}`;
    const d = delta.get(key) ?? [line, t, 0, 0];
    if (dir === 1) d[2] += k; else d[3] += k;
    delta.set(key, d);
  };
  for (const c of old) add(c, -1);
  for (const c of now) add(c, +1);
  let late = 0;
  for (const [line, t, din, dout] of delta.values()) {
    if (din === 0 && dout === 0) continue;
    if (t < floor) { late++; continue; }
    let perLine = s.lines.get(line);
    if (!perLine) s.lines.set(line, (perLine = new Map()));
    const v = perLine.get(t) ?? [0, 0];
    v[0] += din;
    v[1] += dout;
    if (v[0] === 0 && v[1] === 0) perLine.delete(t); else perLine.set(t, v);
    if (mark) {
      let d = s.dirtyLines.get(line);
      if (!d) s.dirtyLines.set(line, (d = new Set()));
      d.add(t);
    }
  }
  return late;
}

/** Closed visits: all of an ended person's, else all but the last. */
const closed = (r: ZonePerson | undefined): Span[] => (!r ? [] : r.ended ? r.visits : r.visits.slice(0, -1));

/** Queues zone_visit points for closed visits that are new or changed, and retractions for those gone. */
function diffVisitPoints(s: ZoneState, person: string, prev: ZonePerson | undefined, next: ZonePerson): void {
  const before = new Map(closed(prev).map(([a, b]) => [a, b]));
  const after = new Map(closed(next).map(([a, b]) => [a, b]));
  for (const [enter, leave] of after) {
    if (before.get(enter) === leave) continue;
    s.visitPoints.set(visitPointNs(enter, person), { person, enter, leave, dwell_s: (leave - enter) / 1000 });
  }
  for (const enter of before.keys()) {
    if (after.has(enter)) continue;
    s.visitPoints.set(visitPointNs(enter, person), { person, enter, leave: enter, dwell_s: 0 });
  }
}

/** Forgets persons whose newest instant is before `floor`, and counts of seconds before it. */
export function prune(s: ZoneState, floor: number): number {
  let forgotten = 0;
  for (const [person, r] of s.persons) if (r.lastTs < floor) { s.persons.delete(person); forgotten++; }
  for (const t of s.counts.keys()) if (t < floor) s.counts.delete(t);
  for (const [line, perLine] of s.lines) {
    for (const t of perLine.keys()) if (t < floor) perLine.delete(t);
    if (perLine.size === 0) s.lines.delete(line);
  }
  return forgotten;
}

const SpanSnap = z.tuple([z.number().int(), z.number().int()]);
const CrossingSnap = z.tuple([LineId, z.number().int(), z.union([z.literal(1), z.literal(-1)])]);
const ZoneSnap = z.strictObject({
  v: z.literal(1),
  persons: z.array(z.tuple([z.string(), z.strictObject({
    version: z.number().int().nonnegative(), visits: z.array(SpanSnap), crossings: z.array(CrossingSnap), ended: z.boolean(), lastTs: z.number().int(),
  })])),
  newest: z.number().int(),
  nextPrune: z.number().int(),
  dirtySeconds: z.array(z.number().int()),
  dirtyLines: z.array(z.tuple([z.string(), z.array(z.number().int())])),
  visitPoints: z.array(z.tuple([z.string(), z.strictObject({
    person: z.string(), enter: z.number().int(), leave: z.number().int(), dwell_s: z.number(),
  })])),
});

export function encodeZone(s: ZoneState): unknown {
  return {
    v: 1,
    persons: [...s.persons],
    newest: s.newest,
    nextPrune: s.nextPrune,
    dirtySeconds: [...s.dirtySeconds],
    dirtyLines: [...s.dirtyLines].map(([line, set]) => [line, [...set]]),
    visitPoints: [...s.visitPoints],
  };
}

/** Restores the records and pending writes, and rebuilds the derived counts from the records. */
export function decodeZone(raw: unknown, floor: (newest: number) => number): ZoneState {
  const snap = ZoneSnap.parse(raw);
  const s = initialZoneState();
  s.newest = snap.newest;
  s.nextPrune = snap.nextPrune;
  const f = floor(s.newest);
  for (const [person, r] of snap.persons) {
    s.persons.set(person, r);
    applyVisitDiff(s, [], r.visits, f, false);
    applyCrossingDiff(s, [], r.crossings, f, false);
  }
  s.dirtySeconds = new Set(snap.dirtySeconds);
  s.dirtyLines = new Map(snap.dirtyLines.map(([line, ts]) => [line, new Set(ts)]));
  s.visitPoints = new Map(snap.visitPoints);
  return s;
}
