/**
 * A person track as read back from the `person` measurement (contracts/track-store.ts
 * PersonFields, written by the person actor). The JSON fields are parsed lazily and checked by
 * hand (paths hold thousands of points; a schema library per point would dominate a heatmap);
 * anything malformed reads as empty rather than failing a whole query.
 */

export type PathPoint = [number, number, number];
export type AttrMap = Record<string, { value: string; conf: number }>;
/** [space, enter, leave] */
export type VisitTuple = [string, number, number];
/** [tid, camera, first ts, last ts] */
export type TrackletTuple = [string, string, number, number];

/** Fields of the person measurement the API reads. */
export type PersonField =
  | "person" | "start" | "end" | "distance_m" | "upper" | "upper_conf" | "lower" | "lower_conf"
  | "attrs" | "path" | "visits" | "tracklets" | "spaces" | "ended";

export interface PersonRow {
  /** point time, epoch ns (digits): the cursor of paginated reads */
  timeNs: string;
  person: string;
  start: number;
  end: number;
  raw: Partial<Record<PersonField, unknown>>;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

function json(v: unknown): unknown {
  if (typeof v !== "string" || v.length === 0) return undefined;
  try { return JSON.parse(v); } catch { return undefined; }
}

export const distanceOf = (r: PersonRow): number => num(r.raw.distance_m);
export const endedOf = (r: PersonRow): boolean => r.raw.ended === true;

export function attrsOf(r: PersonRow): AttrMap {
  const o = json(r.raw.attrs);
  const out: AttrMap = {};
  if (!o || typeof o !== "object" || Array.isArray(o)) return out;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (v && typeof v === "object" && typeof (v as { value?: unknown }).value === "string") {
      out[k] = { value: (v as { value: string }).value, conf: num((v as { conf?: unknown }).conf) };
    }
  }
  return out;
}

/** The attribute's value and confidence: upper/lower from their own fields when read, else from attrs. */
export function attrOf(r: PersonRow, name: string, attrs?: AttrMap): { value: string; conf: number } | undefined {
  if ((name === "upper" || name === "lower") && r.raw[name] !== undefined) {
    const value = str(r.raw[name]);
    return value ? { value, conf: num(r.raw[`${name}_conf`]) } : undefined;
  }
  return (attrs ?? attrsOf(r))[name];
}

/** The path in time order ([ts, x, y], epoch ms and floor metres). */
export function pathOf(r: PersonRow): PathPoint[] {
  const a = json(r.raw.path);
  if (!Array.isArray(a)) return [];
  const out: PathPoint[] = [];
  let sorted = true;
  for (const p of a) {
    if (Array.isArray(p) && p.length >= 3 && typeof p[0] === "number" && typeof p[1] === "number" && typeof p[2] === "number") {
      if (out.length > 0 && p[0] < out[out.length - 1]![0]) sorted = false;
      out.push([p[0], p[1], p[2]]);
    }
  }
  if (!sorted) out.sort((x, y) => x[0] - y[0]);
  return out;
}

export function visitsOf(r: PersonRow): VisitTuple[] {
  const a = json(r.raw.visits);
  if (!Array.isArray(a)) return [];
  return a.filter((v): v is VisitTuple => Array.isArray(v) && typeof v[0] === "string" && typeof v[1] === "number" && typeof v[2] === "number")
    .map((v) => [v[0], v[1], v[2]]);
}

export function trackletsOf(r: PersonRow): TrackletTuple[] {
  const a = json(r.raw.tracklets);
  if (!Array.isArray(a)) return [];
  return a.filter((v): v is TrackletTuple =>
    Array.isArray(v) && typeof v[0] === "string" && typeof v[1] === "string" && typeof v[2] === "number" && typeof v[3] === "number")
    .map((v) => [v[0], v[1], v[2], v[3]]);
}

/** Whether the person matches every attribute filter (value equal, confidence >= minConf). */
export function matchesAttrs(r: PersonRow, filters: ReadonlyArray<{ name: string; value: string }>, minConf: number): boolean {
  let attrs: AttrMap | undefined;
  for (const f of filters) {
    if (f.name !== "upper" && f.name !== "lower") attrs ??= attrsOf(r);
    const a = attrOf(r, f.name, attrs);
    if (!a || a.value !== f.value || a.conf < minConf) return false;
  }
  return true;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One item of GET /paths. */
export function pathItem(r: PersonRow): Record<string, unknown> {
  return {
    person: r.person,
    start: iso(r.start),
    end: iso(r.end),
    distance_m: distanceOf(r),
    attributes: attrsOf(r),
    path: pathOf(r),
    visits: visitsOf(r).map(([space, enter, leave]) => ({ space, enter: iso(enter), leave: iso(leave) })),
    tracklets: trackletsOf(r).map(([tid, camera, from, to]) => ({ tid, camera, from: iso(from), to: iso(to) })),
    ended: endedOf(r),
  };
}
