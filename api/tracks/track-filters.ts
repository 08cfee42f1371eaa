import { z } from "zod";
import { AttrName, COLOUR_ATTRIBUTES, COLOURS } from "../../contracts/detection.ts";
import { TOKEN_RE } from "../../contracts/ids.ts";
import { calendarProblem, parseQueryTime } from "../../contracts/time.ts";
import { badRequest, parseOr400 } from "../http/api-error.ts";

/**
 * Query-string parameters of the camera-pipeline queries (/paths, /stats/*, /heatmap), validated
 * with zod. Besides the named parameters, any other parameter named like an attribute
 * (a-z0-9_, e.g. `shoes=white`) is an attribute filter; `upper` and `lower` are attribute
 * filters too. A filter matches a person whose attribute has that value with a confidence of at
 * least `min_confidence` (default 0).
 *
 * Time range: `to` defaults to now, `from` to `to` minus 24 hours; at most MAX_RANGE_DAYS days.
 */

export const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 31;
export const DEFAULT_RANGE_MS = DAY_MS;
export const MAX_ATTR_FILTERS = 8;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const DEFAULT_CELL_M = 1;
/** The largest instant a JS Date can hold. */
const DATE_LIMIT_MS = 8.64e15;

export type QueryKind = "paths" | "distance" | "dwell" | "heatmap";

/** Parameter names with a meaning of their own: never attribute filters. */
export const RESERVED_PARAMS = ["site", "space", "from", "to", "zone", "min_confidence", "limit", "cursor", "order", "cell"] as const;

export interface AttrFilter { name: string; value: string }

/** What selects persons: the site, the range their track overlaps, attribute filters and a zone they visited. */
export interface TrackFilter {
  site: string;
  from: number;
  to: number;
  /** sorted by name; at most one per name */
  attrs: AttrFilter[];
  zone?: string;
  minConfidence: number;
}

export type Order = "desc" | "asc";
export interface PathsQuery extends TrackFilter { limit: number; order: Order; cursor?: string; explicitRange: { from: boolean; to: boolean } }
export interface HeatmapQuery extends TrackFilter { cell: number }
export interface DwellQuery { site: string; space: string; from: number; to: number }

/** A single query-string value (given once). */
export const text = (name: string) =>
  z.string({ error: (i) => (i.input === undefined ? `${name} is required` : `${name} must be given once`) });

export const token = (name: string) => text(name).regex(TOKEN_RE, `${name} must be 1-64 characters of A-Z a-z 0-9 _ -`);

/** A query-string instant (RFC 3339, YYYY-MM-DD, epoch ms, now); converted by parseQueryTime. */
export const time = (name: string) => text(name).refine((v) => {
  const t = parseQueryTime(v, 0);
  return t !== undefined && Math.abs(t) <= DATE_LIMIT_MS;
}, { error: (i) => calendarProblem(String(i.input)) ?? `"${String(i.input)}" is not a time (use RFC 3339, YYYY-MM-DD, epoch milliseconds or "now")` });

const decimal = (name: string, min: number, max: number) => text(name)
  .regex(/^\d{1,9}(\.\d{1,9})?$/, `${name} must be a number between ${min} and ${max}`)
  .transform(Number)
  .pipe(z.number().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

const integer = (name: string, min: number, max: number) => text(name)
  .regex(/^\d{1,9}$/, `${name} must be a whole number between ${min} and ${max}`)
  .transform(Number)
  .pipe(z.number().int().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

const common = { site: token("site"), from: time("from").optional(), to: time("to").optional() };
const filters = { ...common, zone: token("zone").optional(), min_confidence: decimal("min_confidence", 0, 1).optional() };

const SCHEMAS = {
  paths: z.strictObject({
    ...filters,
    limit: integer("limit", 1, MAX_LIMIT).optional(),
    cursor: text("cursor").max(512, "cursor is not valid").optional(),
    order: z.enum(["desc", "asc"], { error: "order must be desc (newest first) or asc (oldest first)" }).optional(),
  }),
  distance: z.strictObject(filters),
  heatmap: z.strictObject({ ...filters, cell: decimal("cell", 0.1, 100).optional() }),
  dwell: z.strictObject({ ...common, space: token("space") }),
} as const;

/** Which query kinds take attribute filters. */
const TAKES_ATTRS: Record<QueryKind, boolean> = { paths: true, distance: true, heatmap: true, dwell: false };

const AttrValueParam = (name: string) => text(name).regex(/^[a-z0-9_-]{1,32}$/, `${name}: attribute values are 1-32 characters of a-z 0-9 _ -`);

/** Splits a query object into the kind's named parameters and attribute filters; 400 for anything else. */
function split(kind: QueryKind, q: Record<string, unknown>): { named: Record<string, unknown>; attrs: Record<string, unknown> } {
  const schema = SCHEMAS[kind];
  const known = new Set(Object.keys(schema.shape));
  const named: Record<string, unknown> = {};
  const attrs: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (known.has(k)) named[k] = v;
    else if ((RESERVED_PARAMS as readonly string[]).includes(k)) errors.push(`${k}: not a parameter of this query`);
    else if (!TAKES_ATTRS[kind]) errors.push(`${k}: unknown parameter`);
    else if (!AttrName.safeParse(k).success) errors.push(`${k}: unknown parameter (attribute filters are named with 1-32 characters of a-z 0-9 _, starting with a letter)`);
    else attrs[k] = v;
  }
  if (errors.length > 0) throw badRequest(`invalid query: ${errors.slice(0, 8).join("; ")}`, { errors });
  if (Object.keys(attrs).length > MAX_ATTR_FILTERS) throw badRequest(`at most ${MAX_ATTR_FILTERS} attribute filters`);
  return { named, attrs };
}

function parseAttrs(raw: Record<string, unknown>): AttrFilter[] {
  const out: AttrFilter[] = [];
  for (const name of Object.keys(raw).sort()) {
    const value = parseOr400(AttrValueParam(name), raw[name], "query");
    if ((COLOUR_ATTRIBUTES as readonly string[]).includes(name) && !(COLOURS as readonly string[]).includes(value)) {
      throw badRequest(`invalid query: ${name} must be one of ${COLOURS.join(", ")}`);
    }
    out.push({ name, value });
  }
  return out;
}

/** from/to as epoch ms: to defaults to now, from to to - 24 h; from <= to and at most MAX_RANGE_DAYS apart. */
export function resolveRange(rawFrom: string | undefined, rawTo: string | undefined, now: number): { from: number; to: number } {
  const to = rawTo === undefined ? now : parseQueryTime(rawTo, now)!;
  const from = rawFrom === undefined ? to - DEFAULT_RANGE_MS : parseQueryTime(rawFrom, now)!;
  if (from > to) throw badRequest("invalid query: from must not be after to");
  if (to - from > MAX_RANGE_DAYS * DAY_MS) throw badRequest(`invalid query: from..to spans more than ${MAX_RANGE_DAYS} days; ask for a shorter range`);
  return { from, to };
}

function trackFilter(named: { site: string; from?: string | undefined; to?: string | undefined; zone?: string | undefined; min_confidence?: number | undefined }, attrs: AttrFilter[], now: number): TrackFilter {
  const { from, to } = resolveRange(named.from, named.to, now);
  return {
    site: named.site, from, to, attrs,
    ...(named.zone === undefined ? {} : { zone: named.zone }),
    minConfidence: named.min_confidence ?? 0,
  };
}

export function parsePathsQuery(q: Record<string, unknown>, now: number): PathsQuery {
  const { named, attrs } = split("paths", q);
  const p = parseOr400(SCHEMAS.paths, named, "query");
  return {
    ...trackFilter(p, parseAttrs(attrs), now),
    limit: p.limit ?? DEFAULT_LIMIT,
    order: p.order ?? "desc",
    ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
    explicitRange: { from: p.from !== undefined, to: p.to !== undefined },
  };
}

export function parseDistanceQuery(q: Record<string, unknown>, now: number): TrackFilter {
  const { named, attrs } = split("distance", q);
  return trackFilter(parseOr400(SCHEMAS.distance, named, "query"), parseAttrs(attrs), now);
}

export function parseHeatmapQuery(q: Record<string, unknown>, now: number): HeatmapQuery {
  const { named, attrs } = split("heatmap", q);
  const p = parseOr400(SCHEMAS.heatmap, named, "query");
  return { ...trackFilter(p, parseAttrs(attrs), now), cell: p.cell ?? DEFAULT_CELL_M };
}

export function parseDwellQuery(q: Record<string, unknown>, now: number): DwellQuery {
  split("dwell", q);
  const p = parseOr400(SCHEMAS.dwell, q, "query");
  return { site: p.site, space: p.space, ...resolveRange(p.from, p.to, now) };
}

/** The filter as plain JSON for responses and the query history (times as RFC 3339). */
export function describeFilter(f: TrackFilter): Record<string, unknown> {
  return {
    site: f.site, from: new Date(f.from).toISOString(), to: new Date(f.to).toISOString(),
    attributes: Object.fromEntries(f.attrs.map((a) => [a.name, a.value])),
    ...(f.zone === undefined ? {} : { zone: f.zone }),
    min_confidence: f.minConfidence,
  };
}
