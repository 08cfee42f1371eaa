import { z } from "zod";
import { fnv1a } from "../../contracts/nats-layout.ts";
import { badRequest } from "../http/api-error.ts";
import type { Order, TrackFilter } from "./track-filters.ts";

/**
 * The opaque cursor of GET /paths: base64url JSON of where the previous page stopped (the point
 * time of its last person, in nanoseconds), the range it was asked for, and a hash of its filters
 * and order. A cursor only continues the query it came from: different filters are refused;
 * from/to default to the cursor's (so a first page asked with to=now keeps its range).
 */
const CursorBody = z.strictObject({
  v: z.literal(1),
  /** point time (ns, digits) of the last person returned */
  t: z.string().regex(/^\d{1,20}$/),
  from: z.number().int(),
  to: z.number().int(),
  /** hash of filters and order */
  k: z.string().regex(/^[0-9a-f]{1,8}$/),
});
type CursorBody = z.infer<typeof CursorBody>;

export interface PageCursor { afterNs: string; from: number; to: number }

function filterKey(f: Omit<TrackFilter, "from" | "to">, order: Order): string {
  const canon = JSON.stringify([f.site, f.attrs.map((a) => [a.name, a.value]), f.zone ?? null, f.minConfidence, order]);
  return fnv1a(canon).toString(16);
}

export function encodeCursor(f: TrackFilter, order: Order, lastNs: string): string {
  const body: CursorBody = { v: 1, t: lastNs, from: f.from, to: f.to, k: filterKey(f, order) };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/** Decodes a cursor of the same filters and order; 400 if it is malformed or belongs to another query. */
export function decodeCursor(raw: string, f: Omit<TrackFilter, "from" | "to">, order: Order): PageCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
  } catch {
    throw badRequest("invalid query: cursor is not valid (pass next_cursor of the previous page unchanged)");
  }
  const c = CursorBody.safeParse(parsed);
  if (!c.success) throw badRequest("invalid query: cursor is not valid (pass next_cursor of the previous page unchanged)");
  if (c.data.k !== filterKey(f, order)) {
    throw badRequest("invalid query: cursor belongs to another query (filters or order differ from the page it came from)");
  }
  return { afterNs: c.data.t, from: c.data.from, to: c.data.to };
}
