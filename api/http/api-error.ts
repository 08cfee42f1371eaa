import type { ErrorRequestHandler, Response } from "express";
import type { z } from "zod";
import type { Logger } from "../../infra/log.ts";
import { describeIssues, issueLines } from "../../infra/zod-issues.ts";
import { TopologyError } from "../../topology/topology-error.ts";

/**
 * Every error the API answers is JSON {"error": "<code>", "reason": "<human text>", ...details}.
 * Handlers throw ApiError (express 5 forwards rejected promises to the error handler).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(reason);
    this.name = "ApiError";
  }
}

export const badRequest = (reason: string, details?: Record<string, unknown>) => new ApiError(400, "invalid_request", reason, details);
export const notFound = (reason: string) => new ApiError(404, "not_found", reason);

export function sendError(res: Response, status: number, code: string, reason: string, details: Record<string, unknown> = {}): void {
  res.status(status).json({ error: code, reason, ...details });
}

/** Parses `value` with `schema` or throws a 400 naming the problems (all of them in `errors`). */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw badRequest(`invalid ${what}: ${describeBody(r.error)}`, { errors: issueLines(r.error, "(body)") });
  }
  return r.data;
}

const TOPOLOGY_STATUS = { invalid: 422, not_found: 404, in_use: 409, contended: 503 } as const;

/** Errors raised by body-parser carry `type` and `status`. */
interface BodyParserError { type?: string; status?: number; limit?: number; length?: number }

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      log.warn({ err, path: req.path }, "error after the response started");
      res.end();
      return;
    }
    if (err instanceof ApiError) return sendError(res, err.status, err.code, err.reason, err.details);
    if (err instanceof TopologyError) {
      const code = err.code === "invalid" ? "invalid_topology" : err.code === "contended" ? "unavailable" : err.code;
      return sendError(res, TOPOLOGY_STATUS[err.code], code, err.message, err.code === "invalid" ? { errors: err.errors } : {});
    }
    const bp = err as BodyParserError;
    switch (bp?.type) {
      case "entity.parse.failed":
        return sendError(res, 400, "invalid_json", `request body is not valid JSON: ${(err as Error).message}`);
      case "entity.too.large":
        return sendError(res, 413, "payload_too_large", `request body exceeds the limit of ${bp.limit ?? "?"} bytes`);
      case "encoding.unsupported":
      case "charset.unsupported":
        return sendError(res, 415, "unsupported_encoding", (err as Error).message);
      case "request.aborted":
        return sendError(res, 400, "aborted", "request aborted by the client");
      default:
        break;
    }
    if (typeof bp?.status === "number" && bp.status >= 400 && bp.status < 500) {
      return sendError(res, bp.status, "invalid_request", (err as Error).message);
    }
    if (natsUnavailable(err)) {
      log.warn({ err, method: req.method, path: req.path }, "request failed: NATS unavailable");
      res.setHeader("Retry-After", "1");
      return sendError(res, 503, "unavailable", `a store is unavailable, try again: ${(err as Error).message}`);
    }
    log.error({ err, method: req.method, path: req.path }, "request failed");
    sendError(res, 500, "internal", "internal error; see the API log");
  };
}

/**
 * A NATS or JetStream failure that says "not now", not "wrong": a request timing out, no
 * responders, a closed connection, or JetStream itself unavailable (a cluster electing a leader or
 * finding its peers after a node was lost or cut off). The request may succeed if sent again.
 */
export function natsUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (/^(TimeoutError|NoRespondersError|RequestError|ClosedConnectionError|ConnectionError)$/.test(err.name)) return true;
  return err.name === "JetStreamApiError" && /temporarily unavailable|no suitable peers|leader|not available/i.test(err.message);
}

/**
 * Awaits a call to a backing service (NATS KV, InfluxDB); its failure answers 503, not 500:
 * the request was fine, the service was not there.
 */
export async function fromService<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    if (e instanceof ApiError || e instanceof TopologyError) throw e;
    throw new ApiError(503, "unavailable", `${what} is unavailable: ${(e as Error).message}`);
  }
}

/** A refused request body in words (the first 8 issues). */
export const describeBody = (error: z.ZodError): string => describeIssues(error, 8, "(body)");
