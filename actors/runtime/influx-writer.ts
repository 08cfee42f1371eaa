import type { InfluxDB, IPoint } from "influx";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import type { RuntimeMetrics } from "./metrics.ts";

/** Largest batch sent to InfluxDB in one request. */
export const MAX_BATCH_POINTS = 5000;

/** A point whose timestamp is either epoch milliseconds (number) or epoch nanoseconds (digits). */
interface QueuedPoint {
  point: IPoint;
  precision: "ms" | "n";
}

export class InfluxWriterClosedError extends Error {
  constructor() { super("influx writer closed before the points were written"); this.name = "InfluxWriterClosedError"; }
}

/**
 * Batches actors' InfluxDB points (node-influx writePoints, precision ms; nanosecond timestamps
 * given as digit strings, bigints or nano dates go out with precision n). Up to 5,000 points per
 * request; a failed request is retried with backoff until it succeeds, so nothing accepted is
 * lost. Only a batch InfluxDB itself refuses as malformed (HTTP 400, e.g. a field type conflict)
 * is logged, counted and dropped: sending it again could never succeed.
 * `flush()` resolves once every point queued before the call is durable.
 */
export class InfluxWriter {
  private queue: QueuedPoint[] = [];
  private queued = 0;
  private done = 0;
  private barriers: { mark: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private pumping = false;
  private closed = false;
  private readonly maxBatch: number;

  constructor(private readonly opts: { influx: InfluxDB; log: Logger; metrics?: RuntimeMetrics; maxBatch?: number }) {
    this.maxBatch = Math.max(1, Math.min(opts.maxBatch ?? MAX_BATCH_POINTS, MAX_BATCH_POINTS));
  }

  /** Queues points; malformed ones are logged and dropped. Returns how many were accepted. */
  write(points: readonly IPoint[]): number {
    if (this.closed) throw new InfluxWriterClosedError();
    let accepted = 0;
    for (const p of points) {
      const q = normalisePoint(p);
      if (typeof q === "string") {
        this.opts.metrics?.influxFailures.inc({ outcome: "invalid_point" });
        this.opts.log.warn({ reason: q, measurement: (p as { measurement?: unknown })?.measurement }, "influx point refused");
        continue;
      }
      this.queue.push(q);
      this.queued++;
      accepted++;
    }
    if (this.queue.length >= this.maxBatch) this.pump();
    return accepted;
  }

  /** Points queued and not yet durable. */
  pending(): number {
    return this.queued - this.done;
  }

  /** Resolves when every point queued so far has been written (or refused by InfluxDB as malformed). */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new InfluxWriterClosedError());
    const mark = this.queued;
    if (this.done >= mark) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.barriers.push({ mark, resolve, reject }));
    this.pump();
    return p;
  }

  /** Stops retrying; pending flushes reject. Points not yet written are abandoned (a replay re-issues them). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new InfluxWriterClosedError();
    for (const b of this.barriers.splice(0)) b.reject(err);
    this.queue = [];
  }

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    void this.drain().finally(() => {
      this.pumping = false;
      if (!this.closed && this.barriers.length > 0 && this.queue.length > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    while (!this.closed && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      await this.writeBatch(batch);
      if (this.closed) return;
      this.done += batch.length;
      this.settleBarriers();
    }
  }

  private settleBarriers(): void {
    const ready = this.barriers.filter((b) => b.mark <= this.done);
    if (ready.length === 0) return;
    this.barriers = this.barriers.filter((b) => b.mark > this.done);
    for (const b of ready) b.resolve();
  }

  private async writeBatch(batch: QueuedPoint[]): Promise<void> {
    const ms = batch.filter((q) => q.precision === "ms").map((q) => q.point);
    const ns = batch.filter((q) => q.precision === "n").map((q) => q.point);
    if (ms.length > 0) await this.writeWithRetry(ms, "ms");
    if (ns.length > 0) await this.writeWithRetry(ns, "n");
  }

  private async writeWithRetry(points: IPoint[], precision: "ms" | "n"): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.opts.influx.writePoints(points, { precision });
        this.opts.metrics?.influxPoints.inc(points.length);
        return;
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        if (isRefusedAsMalformed(e)) {
          this.opts.metrics?.influxFailures.inc({ outcome: "refused" });
          this.opts.log.error({ err: message, points: points.length }, "influxdb refused a batch as malformed; dropped");
          return;
        }
        this.opts.metrics?.influxFailures.inc({ outcome: "retried" });
        if (attempt === 0 || attempt % 10 === 0) {
          this.opts.log.warn({ err: message, points: points.length, attempt }, "influx write failed; retrying");
        }
        await pause(backoffMs(attempt, 2000));
      }
    }
  }
}

/** HTTP 400 from InfluxDB: the batch itself is bad (field type conflict, unparsable line). */
function isRefusedAsMalformed(e: unknown): boolean {
  const status = (e as { res?: { statusCode?: number } })?.res?.statusCode;
  return status === 400;
}

const NANO_DIGITS = /^\d{1,19}$/;

/** Validates one point and normalises its timestamp; returns the reason when it is refused. */
export function normalisePoint(p: IPoint): QueuedPoint | string {
  if (p === null || typeof p !== "object") return "a point must be an object";
  if (typeof p.measurement !== "string" || p.measurement.length === 0) return "measurement must be a non-empty string";
  const fields = p.fields;
  if (!fields || typeof fields !== "object" || Object.keys(fields).length === 0) return "a point needs at least one field";
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === "number" ? !Number.isFinite(v) : typeof v !== "string" && typeof v !== "boolean") {
      return `field ${k} must be a finite number, a string or a boolean`;
    }
  }
  if (p.tags !== undefined) {
    if (typeof p.tags !== "object" || p.tags === null) return "tags must be an object";
    for (const [k, v] of Object.entries(p.tags)) if (typeof v !== "string") return `tag ${k} must be a string`;
  }
  const ts: unknown = p.timestamp;
  const base: IPoint = { measurement: p.measurement, fields: { ...fields }, ...(p.tags ? { tags: { ...p.tags } } : {}) };
  if (ts === undefined || ts === null) return { point: base, precision: "ms" };
  if (typeof ts === "number") {
    if (!Number.isFinite(ts)) return "timestamp must be finite";
    return { point: { ...base, timestamp: Math.round(ts) }, precision: "ms" };
  }
  if (typeof ts === "bigint") {
    if (ts < 0n) return "timestamp must not be negative";
    return { point: { ...base, timestamp: ts.toString() }, precision: "n" };
  }
  if (typeof ts === "string") {
    if (!NANO_DIGITS.test(ts)) return "a string timestamp must be epoch nanoseconds (digits)";
    return { point: { ...base, timestamp: ts }, precision: "n" };
  }
  if (ts instanceof Date) {
    const nano = (ts as Date & { getNanoTime?: () => string }).getNanoTime;
    if (typeof nano === "function") return { point: { ...base, timestamp: nano.call(ts) }, precision: "n" };
    const ms = ts.getTime();
    if (!Number.isFinite(ms)) return "timestamp is an invalid Date";
    return { point: { ...base, timestamp: ms }, precision: "ms" };
  }
  return "timestamp must be epoch ms (number), a Date, or epoch ns (digit string or bigint)";
}
