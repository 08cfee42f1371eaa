import type { CrossingEvent } from "./crossing.ts";
import { TOKEN_RE } from "./ids.ts";
import { MAX_TS, MIN_TS } from "./time.ts";

const EVENT_ID_RE = /^[\x21-\x7e]+$/;

/**
 * The common DPU payload — one event {id, ts, doorway, delta} with ts in epoch ms — checked
 * without zod, for the broker's hot path. Returns the events exactly as CrossingPayload would,
 * or undefined for anything else (a batch, an RFC 3339 ts, any doubt, any error): the caller
 * then parses with CrossingPayload, whose answer (and error message) stands. It never accepts
 * what CrossingPayload refuses (test/broker/crossing-fast.test.ts holds it to that).
 */
export function quickCrossingPayload(v: unknown): CrossingEvent[] | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  const e = v as Record<string, unknown>;
  const { id, ts, doorway, delta } = e;
  if (Object.keys(e).length !== 4) return undefined;
  if (typeof id !== "string" || id.length < 1 || id.length > 128 || !EVENT_ID_RE.test(id)) return undefined;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < MIN_TS || ts > MAX_TS) return undefined;
  if (typeof doorway !== "string" || !TOKEN_RE.test(doorway)) return undefined;
  if (delta !== 1 && delta !== -1) return undefined;
  return [{ id, ts, doorway, delta }];
}
