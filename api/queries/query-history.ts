import { randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { safeJson } from "../../infra/safe-json.ts";

/**
 * The history of path, statistics and heatmap queries (seed 000: "history and results of past
 * queries"), in KV ff_queries (kept 30 days by the bucket's TTL):
 *
 *   q.{YYYYMMDD}.{id}   the record: kind, parameters, HTTP status, answer summary, timing
 *   r.{YYYYMMDD}.{id}   the answer as sent (JSON), or a truncated copy when it exceeds MAX_RESULT_BYTES
 *
 * Ids sort by time: 9 base-36 digits of the epoch ms, a per-process counter and random hex, so
 * listing newest first needs no index (one key listing per UTC day, newest day first). Records
 * and results are separate keys so a listing never reads results.
 */

export const MAX_RESULT_BYTES = 3 * 1024 * 1024;
export const ID_RE = /^[0-9a-z]{9}[0-9a-z]{4}[0-9a-f]{6}$/;
/** Days a listing walks back (the bucket keeps 30). */
const LIST_DAYS = 32;

export const QueryKindEnum = z.enum(["paths", "distance", "dwell", "heatmap"]);

export const QueryRecord = z.object({
  id: z.string(),
  kind: QueryKindEnum,
  created: z.string(),
  status: z.number().int(),
  ms: z.number(),
  /** the query string as received (values truncated to 200 characters) */
  params: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  /** the parameters as understood (defaults filled in), when they were valid */
  filter: z.record(z.string(), z.unknown()).optional(),
  summary: z.record(z.string(), z.unknown()),
  error: z.object({ error: z.string(), reason: z.string() }).optional(),
  /** the stored result lacks part of the answer */
  truncated: z.boolean(),
  /** size of the answer as sent */
  result_bytes: z.number().int().optional(),
});
export type QueryRecord = z.infer<typeof QueryRecord>;

/** The site a query asked about: as understood, else as sent; undefined when it named none. */
export function querySite(r: QueryRecord): string | undefined {
  const understood = r.filter?.site;
  if (typeof understood === "string") return understood;
  const sent = r.params.site;
  return typeof sent === "string" ? sent : undefined;
}

const StoredResult = z.object({ truncated: z.boolean(), kept: z.string().optional(), result: z.unknown() });

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
export const idTime = (id: string) => parseInt(id.slice(0, 9), 36);

let counter = 0;
/** A new time-sortable query id. */
export function newQueryId(now: number): string {
  counter = (counter + 1) % 36 ** 4;
  return now.toString(36).padStart(9, "0") + counter.toString(36).padStart(4, "0") + randomBytes(3).toString("hex");
}

const enc = new TextEncoder();

/**
 * Cuts the largest top-level array of `value` (e.g. items, counts) to the longest prefix whose JSON
 * fits in maxBytes (each element is serialised once). Returns the JSON and what was kept
 * ("items: 120 of 1000"); null when even an empty array does not fit.
 */
export function fitJson(value: Record<string, unknown>, maxBytes: number): { json: string; kept: string } | null {
  let best: { key: string; sizes: number[]; total: number } | undefined;
  for (const [k, v] of Object.entries(value)) {
    if (!Array.isArray(v)) continue;
    const sizes = v.map((el) => Buffer.byteLength(JSON.stringify(el) ?? "null"));
    const total = sizes.reduce((a, b) => a + b, 0);
    if (!best || total > best.total) best = { key: k, sizes, total };
  }
  if (!best) return null;
  const { key, sizes } = best;
  const arr = value[key] as unknown[];
  let size = Buffer.byteLength(JSON.stringify({ ...value, [key]: [] }));
  if (size > maxBytes) return null;
  let n = 0;
  for (; n < sizes.length; n++) {
    const next = size + sizes[n]! + (n > 0 ? 1 : 0);
    if (next > maxBytes) break;
    size = next;
  }
  return { json: JSON.stringify({ ...value, [key]: arr.slice(0, n) }), kept: `${key}: ${n} of ${arr.length}` };
}

/** Room a stored result leaves in a NATS message for the rest of the value and the headers. */
const PAYLOAD_MARGIN = 16 * 1024;

export class QueryHistory {
  /**
   * `payloadLimit`: the NATS server's max_payload (a result never exceeds it, whatever
   * maxResultBytes says: a server with the default 1 MB limit gets results truncated to fit).
   */
  constructor(
    private readonly kv: () => Promise<KV>,
    private readonly maxResultBytes = MAX_RESULT_BYTES,
    private readonly payloadLimit: () => number | undefined = () => undefined,
  ) {}

  private limit(): number {
    const server = this.payloadLimit();
    return server === undefined ? this.maxResultBytes : Math.min(this.maxResultBytes, server - PAYLOAD_MARGIN);
  }

  /**
   * Stores a record and its answer. `body` is the answer as sent (JSON text) or undefined (refused
   * queries). Records whether the stored answer had to be truncated.
   */
  async put(record: Omit<QueryRecord, "truncated" | "result_bytes">, body: string | undefined, bodyValue?: Record<string, unknown>): Promise<QueryRecord> {
    const kv = await this.kv();
    const day = dayOf(idTime(record.id));
    let truncated = false;
    let stored: string | undefined;
    let bytes: number | undefined;
    if (body !== undefined) {
      bytes = Buffer.byteLength(body);
      const limit = this.limit();
      if (bytes <= limit) stored = `{"truncated":false,"result":${body}}`;
      else {
        truncated = true;
        const fit = bodyValue ? fitJson(bodyValue, limit) : null;
        stored = fit ? `{"truncated":true,"kept":${JSON.stringify(fit.kept)},"result":${fit.json}}` : `{"truncated":true,"result":null}`;
      }
    }
    const full: QueryRecord = { ...record, truncated, ...(bytes === undefined ? {} : { result_bytes: bytes }) };
    if (stored !== undefined) await kv.put(`r.${day}.${record.id}`, enc.encode(stored));
    await kv.put(`q.${day}.${record.id}`, enc.encode(JSON.stringify(full)));
    return full;
  }

  /** A record and its stored result; undefined if unknown (or expired). */
  async get(id: string): Promise<{ record: QueryRecord; result: unknown; kept?: string } | undefined> {
    if (!ID_RE.test(id)) return undefined;
    const kv = await this.kv();
    const day = dayOf(idTime(id));
    const [rec, res] = await Promise.all([kv.get(`q.${day}.${id}`), kv.get(`r.${day}.${id}`)]);
    if (!rec || rec.operation !== "PUT") return undefined;
    const record = QueryRecord.safeParse(safeJson(rec.string()));
    if (!record.success) return undefined;
    const stored = res && res.operation === "PUT" ? StoredResult.safeParse(safeJson(res.string())) : undefined;
    return {
      record: record.data,
      result: stored?.success ? stored.data.result ?? null : null,
      ...(stored?.success && stored.data.kept ? { kept: stored.data.kept } : {}),
    };
  }

  /**
   * Records newest first, older than `before` (an id, exclusive; default now), at most `limit`,
   * only those `keep` accepts (all by default).
   */
  async list(limit: number, before: string | undefined, now: number, keep: (r: QueryRecord) => boolean = () => true): Promise<QueryRecord[]> {
    const kv = await this.kv();
    const start = before === undefined ? now : idTime(before);
    const out: QueryRecord[] = [];
    const read = async (day: string, id: string) => {
      const e = await kv.get(`q.${day}.${id}`);
      if (!e || e.operation !== "PUT") return undefined;
      const r = QueryRecord.safeParse(safeJson(e.string()));
      return r.success ? r.data : undefined;
    };
    for (let d = 0; d < LIST_DAYS && out.length < limit; d++) {
      const day = dayOf(start - d * 86_400_000);
      const dayIds: string[] = [];
      for await (const key of await kv.keys(`q.${day}.*`)) {
        const id = key.slice(11);
        if (before === undefined || id < before) dayIds.push(id);
      }
      dayIds.sort().reverse();
      // read in batches of what is still missing, newest first, until the page is full
      for (let i = 0; i < dayIds.length && out.length < limit; ) {
        const batch = dayIds.slice(i, i + Math.max(limit - out.length, 16));
        i += batch.length;
        const records = await Promise.all(batch.map((id) => read(day, id)));
        for (const r of records) if (r !== undefined && keep(r) && out.length < limit) out.push(r);
      }
    }
    return out;
  }
}


