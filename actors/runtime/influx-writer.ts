import type { InfluxDB, IPoint } from "influx";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import type { RuntimeMetrics } from "./metrics.ts";

/** Largest batch sent to InfluxDB in one request. */
export const MAX_BATCH_POINTS = 5000;

/** Default bound of the points waiting to be written, above which the partitions stop consuming. */
export const DEFAULT_MAX_BUFFERED = 200_000;

/** A point whose timestamp is either epoch milliseconds (number) or epoch nanoseconds (digits). */
interface QueuedPoint {
  point: IPoint;
  precision: "ms" | "n";
  /** performance.now() when it was queued */
  at?: number;
  /** who queued it (a partition's worker): its points are dropped once it is discarded */
  owner?: object;
}

/** How the writer is doing, for /healthz and the backlog metrics. */
export interface WriterState {
  /** points queued and not yet written */
  pending: number;
  /** age of the oldest of them (ms); 0 if none */
  oldestMs: number;
  /** how long writes have been failing without a success since (ms); 0 if the last one succeeded */
  failingMs: number;
  /** the last failure while failing */
  lastError?: string;
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
 *
 * Bounded: once `maxBuffered` points wait (InfluxDB down or slow), `room()` holds the partitions
 * back until the backlog drains below it, so they stop consuming their streams instead of
 * filling memory. Nothing is lost meanwhile: a partition's checkpoint waits for `flush()`, so a
 * host killed while points wait here replays them from the stream, and since every point has a
 * deterministic series and timestamp, a point written twice overwrites itself in InfluxDB.
 * `ready`, when given, holds every write back until it resolves (InfluxDB provisioned).
 *
 * Fenced: points are queued with their owner (a partition's worker). A host that loses a
 * partition `discard()`s its owner: its points still waiting are never sent, and the request in
 * flight, if it holds any, is aborted (`abortInFlight`) and sent again without them. Another
 * host replays that partition from its checkpoint and writes those points itself; a stale copy
 * of a running total (a camera's per-second figures) arriving after it, once a network
 * partition heals, would overwrite the newer total with an older one.
 */
export class InfluxWriter {
  private queue: QueuedPoint[] = [];
  private queued = 0;
  private done = 0;
  private barriers: { mark: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private pumping = false;
  private closed = false;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private roomWaiters: (() => void)[] = [];
  /** queued time of the oldest point of the batch being written */
  private writingSince: number | undefined;
  private failingSince: number | undefined;
  private lastError: string | undefined;
  private ready: Promise<unknown> | undefined;
  /** owners discarded: their points are skipped (they still count as done, in queue order) */
  private discarded = new WeakSet<object>();
  /** the batch being written, and whether it was aborted for a discarded owner */
  private inFlight: QueuedPoint[] | undefined;
  private aborted = false;

  constructor(private readonly opts: {
    influx: InfluxDB; log: Logger; metrics?: RuntimeMetrics; maxBatch?: number;
    /** points waiting above which room() holds the partitions back (default DEFAULT_MAX_BUFFERED) */
    maxBuffered?: number;
    /** writes wait for this (InfluxDB provisioned); a rejection is logged and writes go ahead */
    ready?: Promise<unknown>;
    /**
     * Aborts the write request in flight (destroys its socket, so no byte of it is delivered
     * later): `influxWriteClient()` gives one with the client. Without it, a discarded owner's
     * points already sent may still land.
     */
    abortInFlight?: () => void;
  }) {
    this.maxBatch = Math.max(1, Math.min(opts.maxBatch ?? MAX_BATCH_POINTS, MAX_BATCH_POINTS));
    this.maxBuffered = Math.max(1, opts.maxBuffered ?? DEFAULT_MAX_BUFFERED);
    this.ready = opts.ready?.catch((e) => { opts.log.warn({ err: e }, "influx writer: waiting for InfluxDB to be ready failed; writing anyway"); });
    opts.metrics?.influxBacklog(() => this.state());
  }

  /** Fewer than maxBuffered points wait (or the writer is closed): room() would resolve at once. */
  hasRoom(): boolean {
    return this.pending() < this.maxBuffered || this.closed;
  }

  /** Resolves when fewer than maxBuffered points wait (at once if so, or if the writer is closed). */
  room(): Promise<void> {
    if (this.pending() < this.maxBuffered || this.closed) return Promise.resolve();
    this.pump();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** The backlog and how long writes have been failing. */
  state(now = performance.now()): WriterState {
    if (this.closed) return { pending: 0, oldestMs: 0, failingMs: 0 };
    const oldest = this.writingSince ?? this.queue[0]?.at;
    return {
      pending: this.pending(),
      oldestMs: oldest === undefined || this.pending() === 0 ? 0 : Math.max(0, now - oldest),
      failingMs: this.failingSince === undefined ? 0 : Math.max(0, now - this.failingSince),
      ...(this.failingSince !== undefined && this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** A failure of InfluxDB outside the writer (provisioning): counts towards failingMs until a write succeeds. */
  noteFailure(e: unknown): void {
    this.failingSince ??= performance.now();
    this.lastError = (e as Error)?.message ?? String(e);
  }

  /** Queues points (of `owner`, if given); malformed ones are logged and dropped. Returns how many were accepted. */
  write(points: readonly IPoint[], owner?: object): number {
    if (this.closed) throw new InfluxWriterClosedError();
    if (owner && this.discarded.has(owner)) return 0;
    let accepted = 0;
    const at = performance.now();
    for (const p of points) {
      const q = normalisePoint(p);
      if (typeof q === "string") {
        this.opts.metrics?.influxFailures.inc({ outcome: "invalid_point" });
        this.opts.log.warn({ reason: q, measurement: (p as { measurement?: unknown })?.measurement }, "influx point refused");
        continue;
      }
      q.at = at;
      if (owner) q.owner = owner;
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

  /**
   * The owner lost its partition: none of its points is sent from now on (those waiting are
   * skipped; a request in flight holding some is aborted and sent again without them).
   */
  discard(owner: object): void {
    if (this.discarded.has(owner)) return;
    this.discarded.add(owner);
    if (this.inFlight?.some((q) => q.owner === owner) && this.opts.abortInFlight) {
      this.aborted = true;
      this.opts.abortInFlight();
    }
  }

  /** Stops retrying; pending flushes reject. Points not yet written are abandoned (a replay re-issues them). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new InfluxWriterClosedError();
    for (const b of this.barriers.splice(0)) b.reject(err);
    this.queue = [];
    for (const w of this.roomWaiters.splice(0)) w();
  }

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    void this.drain().finally(() => {
      this.pumping = false;
      if (!this.closed && (this.barriers.length > 0 || this.roomWaiters.length > 0) && this.queue.length > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    if (this.ready) await this.ready;
    while (!this.closed && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.writingSince = batch[0]?.at;
      this.inFlight = batch;
      try {
        await this.writeBatch(batch);
      } finally {
        this.writingSince = undefined;
        this.inFlight = undefined;
      }
      if (this.closed) return;
      this.done += batch.length;
      this.settleBarriers();
      if (this.pending() < this.maxBuffered) for (const w of this.roomWaiters.splice(0)) w();
    }
  }

  private settleBarriers(): void {
    const ready = this.barriers.filter((b) => b.mark <= this.done);
    if (ready.length === 0) return;
    this.barriers = this.barriers.filter((b) => b.mark > this.done);
    for (const b of ready) b.resolve();
  }

  private async writeBatch(batch: QueuedPoint[]): Promise<void> {
    await this.writeWithRetry(batch, "ms");
    await this.writeWithRetry(batch, "n");
  }

  /** The batch's points of one precision whose owner was not discarded (asked again at every attempt). */
  private live(batch: QueuedPoint[], precision: "ms" | "n"): IPoint[] {
    const out: IPoint[] = [];
    for (const q of batch) if (q.precision === precision && !(q.owner && this.discarded.has(q.owner))) out.push(q.point);
    return out;
  }

  /** A write went through (or InfluxDB answered it): InfluxDB is up again. */
  private succeeded(): void {
    if (this.failingSince !== undefined) {
      this.opts.log.info({ failedForMs: Math.round(performance.now() - this.failingSince) }, "influx writes succeed again");
    }
    this.failingSince = undefined;
    this.lastError = undefined;
  }

  private async writeWithRetry(batch: QueuedPoint[], precision: "ms" | "n"): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      const points = this.live(batch, precision);
      if (points.length === 0) return;
      try {
        this.aborted = false;
        await this.opts.influx.writePoints(points, { precision });
        this.opts.metrics?.influxPoints.inc(points.length);
        this.succeeded();
        return;
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        if (isRefusedAsMalformed(e)) {
          // InfluxDB answered: it is up
          this.succeeded();
          this.opts.metrics?.influxFailures.inc({ outcome: "refused" });
          this.opts.log.error({ err: message, points: points.length }, "influxdb refused a batch as malformed; dropped");
          return;
        }
        if (this.aborted) {
          // aborted on purpose for a discarded owner: at once again, without its points
          this.aborted = false;
          attempt--;
          continue;
        }
        this.opts.metrics?.influxFailures.inc({ outcome: "retried" });
        this.noteFailure(e);
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
