import type { Request, RequestHandler } from "express";
import type { Logger } from "../../infra/log.ts";
import { ApiError } from "../http/api-error.ts";
import { newQueryId, type QueryHistory, type QueryRecord } from "./query-history.ts";
import type { QueryMetrics } from "./query-metrics.ts";
import type { QueryKind } from "../tracks/track-filters.ts";

/**
 * Wraps the handlers of /paths, /stats/* and /heatmap: gives every request a query id (the
 * `query_id` field of the answer and the X-Query-Id header), stores it in the query history
 * with its parameters, status, summary, timing and answer (refused requests too, with their
 * error, so a user can see why a query was refused), and counts it in the metrics.
 * A history that cannot be written is logged; the answer is sent anyway.
 */

export interface QueryOutcome {
  status: 200 | 202;
  body: Record<string, unknown>;
  summary: Record<string, unknown>;
}

export interface QueryContext {
  id: string;
  now: number;
  /** the parameters as understood, for the history */
  filter(f: Record<string, unknown>): void;
}

const MAX_PARAM_CHARS = 200;

function rawParams(q: Request["query"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(q as Record<string, unknown>).slice(0, 50)) {
    const key = k.slice(0, 64);
    if (typeof v === "string") out[key] = v.slice(0, MAX_PARAM_CHARS);
    else if (Array.isArray(v)) out[key] = v.slice(0, 10).map((x) => String(x).slice(0, MAX_PARAM_CHARS));
  }
  return out;
}

export class QueryRecorder {
  constructor(private readonly history: QueryHistory, private readonly metrics: QueryMetrics, private readonly log: Logger) {}

  handler(kind: QueryKind, run: (req: Request, ctx: QueryContext) => Promise<QueryOutcome>): RequestHandler {
    return async (req, res) => {
      const started = performance.now();
      const now = Date.now();
      const id = newQueryId(now);
      res.set("X-Query-Id", id);
      let filter: Record<string, unknown> | undefined;
      const ctx: QueryContext = { id, now, filter: (f) => { filter = f; } };
      const base = { id, kind, created: new Date(now).toISOString(), params: rawParams(req.query) };
      let outcome: QueryOutcome;
      try {
        outcome = await run(req, ctx);
      } catch (e) {
        const ms = performance.now() - started;
        const status = e instanceof ApiError ? e.status : 500;
        this.metrics.queries.inc({ kind, status: String(status) });
        this.metrics.duration.observe({ kind }, ms / 1000);
        const error = e instanceof ApiError ? { error: e.code, reason: e.reason } : { error: "internal", reason: (e as Error)?.message ?? String(e) };
        await this.store({ ...base, ...(filter ? { filter } : {}), status, ms, summary: {}, error }, undefined, undefined);
        if (e instanceof ApiError) throw new ApiError(e.status, e.code, e.reason, { ...e.details, query_id: id });
        throw e;
      }
      const ms = performance.now() - started;
      const body = { ...outcome.body, query_id: id };
      const json = JSON.stringify(body);
      this.metrics.queries.inc({ kind, status: String(outcome.status) });
      this.metrics.duration.observe({ kind }, ms / 1000);
      await this.store({ ...base, ...(filter ? { filter } : {}), status: outcome.status, ms, summary: outcome.summary }, json, body);
      res.status(outcome.status).type("application/json").send(json);
    };
  }

  private async store(record: Omit<QueryRecord, "truncated" | "result_bytes">, json: string | undefined, body: Record<string, unknown> | undefined): Promise<void> {
    try {
      await this.history.put({ ...record, ms: Math.round(record.ms * 10) / 10 }, json, body);
    } catch (e) {
      this.log.warn({ err: e, query: record.id }, "query history not written");
    }
  }
}
