import type { z } from "zod";
import { CrossingBatch, CrossingEvent, CrossingPayload } from "../contracts/crossing.ts";
import { describeIssues } from "../infra/zod-issues.ts";
import type { RefusalReason } from "./broker-metrics.ts";

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

/** A DPU's crossing payload (one event or {events: [...]}) as a list of validated events. */
export function readCrossings(payload: Buffer | string, maxBytes: number): PayloadReading<z.output<typeof CrossingEvent>[]> {
  const json = readJson(payload, maxBytes);
  if (!json.ok) return json;
  const parsed = CrossingPayload.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: "invalid_payload", detail: explainCrossingError(json.value, parsed.error) };
  return { ok: true, value: parsed.data };
}

/**
 * The union's own error only says "expected a crossing or a batch"; for an object, re-check it
 * against the shape it evidently meant (a batch if it has "events", else one event) to name
 * the field that is wrong.
 */
function explainCrossingError(value: unknown, unionError: z.ZodError): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return describeIssues(unionError);
  const meant = "events" in value ? CrossingBatch.safeParse(value) : CrossingEvent.safeParse(value);
  return meant.success ? describeIssues(unionError) : describeIssues(meant.error);
}
