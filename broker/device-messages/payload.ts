import type { z } from "zod";
import { describeIssues } from "../../infra/zod-issues.ts";
import type { RefusalReason } from "../broker-metrics.ts";

export type PayloadReading<T> =
  | { ok: true; value: T }
  | { ok: false; reason: RefusalReason; detail: string };

/** Parses a payload as JSON, refusing anything above maxBytes before parsing it. */
export function readJson(payload: Buffer | string, maxBytes: number): PayloadReading<unknown> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (size > maxBytes) return { ok: false, reason: "too_large", detail: `payload of ${size} bytes exceeds the limit of ${maxBytes}` };
  try {
    return { ok: true, value: JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8")) };
  } catch (e) {
    return { ok: false, reason: "invalid_json", detail: `not JSON: ${(e as Error).message}` };
  }
}

/** A JSON payload validated against `schema`; schema errors are named by field. */
export function readSchema<S extends z.ZodType>(payload: Buffer | string, maxBytes: number, schema: S): PayloadReading<z.output<S>> {
  const json = readJson(payload, maxBytes);
  if (!json.ok) return json;
  const parsed = schema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: "invalid_payload", detail: describeIssues(parsed.error) };
  return { ok: true, value: parsed.data };
}
