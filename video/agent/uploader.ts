/**
 * The camera agent's uploader: sends recorded chunks to the chunk store over HTTP and announces
 * each accepted one over MQTT.
 *
 * A queue in sequence order; at most `concurrency` uploads at once (streaming PUTs,
 * upload-request.ts). Retryable outcomes (network errors, 5xx, 408, 429) are retried without
 * limit while the uploader runs, with exponential backoff and jitter (infra/backoff.ts); any
 * other 4xx is final: logged, counted as failed, remembered in the ledger. After the store
 * answered 201 stored or 200 duplicate the chunk leaves its upload slot and is announced
 * (`announcer.publishChunk`, resolving on the PUBACK); only then is it done and written to the
 * ledger ({dataDir}/uploaded.json, upload-state.ts). Announcements therefore need not come in
 * sequence order.
 *
 * Restart-safe: `open` re-queues every recorded chunk (sidecar present, seq below the agent's
 * state.json next_seq) that the ledger does not call done, in seq order, plus the chunks that
 * failed before (a restart is the operator's retry). A chunk the store took but the ledger had
 * not yet recorded is sent again and answered 200 duplicate: nothing lost, nothing doubled.
 *
 * `stop` takes no new uploads, drops pending retries, gives in-flight requests and
 * announcements a grace period, aborts the rest (they stay queued for the next start) and
 * writes the ledger. `drain` waits until everything queued is settled.
 */
import { setMaxListeners } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import type { Logger } from "pino";
import { ChunkMeta } from "../../contracts/video.ts";
import { chunksDir, sidecarOf, stateFile } from "./agent.ts";
import { loadResumeState } from "./resume-state.ts";
import { backoffDelay, sleep, type BackoffPolicy } from "../../infra/backoff.ts";
import { LocalChunkKeep } from "./upload-keep.ts";
import { putChunk, type PutOutcome } from "./upload-request.ts";
import { DEFAULT_UPLOAD_CONCURRENCY, MAX_UPLOAD_CONCURRENCY } from "./upload-limits.ts";

/** Upload retries: 500 ms doubling up to 30 s, between half and the whole delay. */
export const UPLOAD_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, jitter: 0.5 };
import { UploadLedger, uploadStateFile, type FailedUpload } from "./upload-state.ts";

/** What announces an accepted chunk (CameraUplink's publishChunk: resolves on the PUBACK). */
export interface ChunkAnnouncer {
  publishChunk(meta: ChunkMeta): Promise<void>;
}

export interface UploaderOptions {
  camera: string;
  /** the camera's device secret (HTTP Basic password; also its signing key) */
  secret: string;
  /** the chunk store's base URL, e.g. http://127.0.0.1:8080 or https://footfall.example */
  api: string;
  /** https://: the PEM CA the server's certificate must verify against (default: the system's roots) */
  ca?: Buffer | string;
  dataDir: string;
  /** uploads at once, 1..8 (default 6) */
  concurrency?: number;
  /** announces accepted chunks (MQTT); without it a chunk is done once the store accepted it */
  announcer?: ChunkAnnouncer;
  backoff?: Partial<BackoffPolicy>;
  /** per-request idle timeout (default 30 s) */
  requestIdleTimeoutMs?: number;
  /** keep at most this many bytes of uploaded chunks on disk (oldest deleted first); default: keep all */
  keepBytes?: number;
  log?: Logger;
  clock?: () => number;
}

export interface UploadStats {
  /** chunks the store newly stored (201) */
  uploaded: number;
  /** chunks the store already had (200 duplicate) */
  duplicate: number;
  /** retries (each failed attempt that is tried again) */
  retried: number;
  /** chunks given up on (final 4xx or a local problem) */
  failed: number;
  /** bytes of chunks the store accepted (stored or duplicate) */
  bytes: number;
  /** announcements acknowledged */
  announced: number;
  /** announcements that are retried */
  announceRetried: number;
  /** uploaded chunks deleted from disk by the keep policy */
  deletedLocal: number;
}

interface Item {
  meta: ChunkMeta;
  file: string;
}

type Phase = "queued" | "uploading" | "announcing";

export class Uploader {
  readonly stats: UploadStats = { uploaded: 0, duplicate: 0, retried: 0, failed: 0, bytes: 0, announced: 0, announceRetried: 0, deletedLocal: 0 };
  readonly concurrency: number;
  private readonly queue: Item[] = [];
  /** every seq enqueued and not settled (done or failed), with its phase; aborted ones stay */
  private readonly phase = new Map<number, Phase>();
  private uploading = 0;
  private announcing = 0;
  /** chunks between leaving the queue and being settled (or given up by a stop) */
  private active = 0;
  private stopping = false;
  /** aborts retry waits at once when stopping */
  private readonly waits = new AbortController();
  /** aborts in-flight requests and announcements when the grace period is over */
  private readonly hard = new AbortController();
  private readonly agent: http.Agent;
  private readonly backoff: BackoffPolicy;
  private readonly log: Logger | undefined;
  private readonly clock: () => number;
  private readonly keep: LocalChunkKeep;
  private readonly stateFile: string;
  private idleWaiters: (() => void)[] = [];
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private stopped: Promise<void> | undefined;

  private constructor(private readonly opts: UploaderOptions, private readonly ledger: UploadLedger) {
    const c = opts.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
    if (!Number.isInteger(c) || c < 1 || c > MAX_UPLOAD_CONCURRENCY) throw new Error(`upload concurrency must be 1..${MAX_UPLOAD_CONCURRENCY}, not ${c}`);
    this.concurrency = c;
    // every upload and announcement waiting at once listens to these
    setMaxListeners(0, this.waits.signal, this.hard.signal);
    // https://: the server's certificate must verify (against opts.ca, else the system's roots)
    this.agent = new URL(opts.api).protocol === "https:"
      ? new https.Agent({ keepAlive: true, maxSockets: c, rejectUnauthorized: true, ...(opts.ca ? { ca: opts.ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: c });
    this.backoff = { ...UPLOAD_BACKOFF, ...opts.backoff };
    // every line names the camera (once: the caller's logger may already carry it)
    this.log = opts.log?.child(opts.log.bindings().camera === opts.camera ? { component: "uploader" } : { camera: opts.camera, component: "uploader" });
    this.clock = opts.clock ?? Date.now;
    this.keep = new LocalChunkKeep(opts.keepBytes, this.log);
    this.stateFile = uploadStateFile(opts.dataDir);
  }

  /**
   * Reads the ledger and queues every recorded chunk not yet done (seq order). Call before the
   * agent starts recording, then hand it each new chunk with `enqueue`.
   */
  static async open(opts: UploaderOptions): Promise<Uploader> {
    const file = uploadStateFile(opts.dataDir);
    const saved = await UploadLedger.read(file);
    const recorder = await loadResumeState(stateFile(opts.dataDir));
    const nextSeq = recorder?.next_seq ?? 0;
    let ledger: UploadLedger;
    if (!saved) ledger = new UploadLedger(opts.camera, opts.api);
    else if (saved.camera !== opts.camera) throw new Error(`${file} belongs to camera ${saved.camera}, not ${opts.camera}`);
    else if (saved.store !== opts.api) {
      opts.log?.warn({ camera: opts.camera, was: saved.store, now: opts.api }, "chunk store changed: every local chunk is uploaded to the new one");
      ledger = new UploadLedger(opts.camera, opts.api);
    } else if (saved.done_below > nextSeq) {
      // the agent's numbering restarted (its state was reset): this ledger is about older chunks
      opts.log?.warn({ camera: opts.camera, done_below: saved.done_below, next_seq: nextSeq }, "upload ledger is ahead of the recorder: started afresh");
      ledger = new UploadLedger(opts.camera, opts.api);
    } else ledger = new UploadLedger(opts.camera, opts.api, saved);

    const u = new Uploader(opts, ledger);
    const pending = await u.recordedChunks(nextSeq);
    const failedBefore = new Set(ledger.failed().map((f) => f.seq));
    let retryingFailed = 0;
    for (const it of pending) {
      if (failedBefore.has(it.meta.seq)) retryingFailed++;
      u.add(it);
    }
    u.log?.info({ queued: pending.length, retrying_failed: retryingFailed, done_below: ledger.watermark, concurrency: u.concurrency, api: opts.api },
      pending.length > 0 ? "queued recorded chunks not yet uploaded" : "no recorded chunk left to upload");
    u.pump();
    return u;
  }

  /** Recorded chunks (sidecar present, seq < nextSeq) the ledger does not call done, in seq order. */
  private async recordedChunks(nextSeq: number): Promise<Item[]> {
    const dir = chunksDir(this.opts.dataDir);
    let names: string[];
    try { names = await readdir(dir); } catch { return []; }
    const out: Item[] = [];
    for (const name of names.sort()) {
      const m = /^chunk-(\d{8,})\.json$/.exec(name);
      if (!m) continue;
      const seq = Number(m[1]);
      if (seq >= nextSeq) continue; // not recorded (the agent deletes it on start)
      const done = this.ledger.isDone(seq);
      if (done && !this.keep.enabled) continue;
      let meta: ChunkMeta;
      try {
        meta = ChunkMeta.parse(JSON.parse(await readFile(path.join(dir, name), "utf8")));
      } catch (e) {
        this.log?.error({ file: name, err: e }, "unreadable chunk record: not uploaded");
        continue;
      }
      const file = path.join(dir, meta.file);
      if (done) await this.keep.uploaded({ seq, file, sidecar: path.join(dir, name), bytes: meta.bytes });
      else out.push({ meta, file });
    }
    this.stats.deletedLocal = this.keep.deleted;
    return out.sort((a, b) => a.meta.seq - b.meta.seq);
  }

  /** Queues a newly recorded chunk (the agent's onChunk). Ignored when already queued or done. */
  enqueue(meta: ChunkMeta, file: string): void {
    if (this.stopping) return; // the next start finds it in the data folder
    if (this.phase.has(meta.seq) || this.ledger.isDone(meta.seq)) return;
    this.add({ meta, file });
    this.pump();
  }

  private add(it: Item): void {
    if (this.phase.has(it.meta.seq)) return;
    this.phase.set(it.meta.seq, "queued");
    this.queue.push(it);
  }

  /** Chunks waiting for an upload slot. */
  get queued(): number { return this.queue.length; }
  /** Uploads holding a slot (sending, or waiting to retry). */
  get inFlight(): number { return this.uploading; }
  /** Accepted chunks waiting for their announcement's PUBACK. */
  get awaitingAnnounce(): number { return this.announcing; }
  /** Chunks given up on (this run and remembered ones). */
  failures(): FailedUpload[] { return this.ledger.failed(); }

  private pump(): void {
    while (!this.stopping && this.uploading < this.concurrency && this.queue.length > 0) {
      const it = this.queue.shift()!;
      this.uploading++;
      this.phase.set(it.meta.seq, "uploading");
      void this.run(it);
    }
    this.checkIdle();
  }

  private async run(it: Item): Promise<void> {
    this.active++;
    let released = false;
    const release = () => { if (!released) { released = true; this.uploading--; this.pump(); } };
    try {
      const outcome = await this.upload(it);
      release();
      if (outcome.kind === "stored" || outcome.kind === "duplicate") {
        this.phase.set(it.meta.seq, "announcing");
        this.announcing++;
        let acked: boolean;
        try {
          acked = await this.announce(it);
        } finally {
          this.announcing--;
        }
        if (acked) await this.settle(it, undefined); // else stopped before the PUBACK: not done
      } else if (outcome.kind === "permanent") {
        await this.settle(it, outcome);
      }
    } catch (e) {
      this.log?.error({ seq: it.meta.seq, err: e }, "chunk upload broke off");
    } finally {
      release();
      this.active--;
      this.checkIdle();
    }
  }

  /** Sends the chunk until the store accepts it, refuses it for good, or the uploader stops. */
  private async upload(it: Item): Promise<PutOutcome> {
    const { meta } = it;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      const out = await putChunk({
        api: this.opts.api, secret: this.opts.secret, meta, file: it.file, agent: this.agent, signal: this.hard.signal,
        ...(this.opts.requestIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.opts.requestIdleTimeoutMs } : {}),
      });
      if (out.kind === "stored" || out.kind === "duplicate") {
        if (out.kind === "stored") this.stats.uploaded++; else this.stats.duplicate++;
        this.stats.bytes += meta.bytes;
        this.log?.info({ seq: meta.seq, status: out.status, result: out.kind, bytes: meta.bytes, ms: Math.round(performance.now() - t0), attempts: attempt }, "chunk uploaded");
        return out;
      }
      if (out.kind !== "retry") return out;
      if (this.stopping) return { kind: "aborted" };
      this.stats.retried++;
      const wait = backoffDelay(attempt, this.backoff, out.retryAfterMs);
      // the first retries and then every tenth at warn: a long outage does not flood the log
      const level = attempt <= 3 || attempt % 10 === 0 ? "warn" : "debug";
      this.log?.[level]({ seq: meta.seq, attempt, status: out.status, error: out.error, reason: out.reason, retry_in_ms: wait }, "chunk upload failed, retrying");
      if (!(await sleep(wait, this.waits.signal))) return { kind: "aborted" };
    }
  }

  /** Announces an accepted chunk; false when the uploader stopped before its PUBACK. */
  private async announce(it: Item): Promise<boolean> {
    const announcer = this.opts.announcer;
    if (!announcer) return true;
    for (let attempt = 1; ; attempt++) {
      if (this.hard.signal.aborted) return false;
      const acked = await new Promise<boolean | Error>((resolve) => {
        const onAbort = () => resolve(false);
        this.hard.signal.addEventListener("abort", onAbort, { once: true });
        announcer.publishChunk(it.meta).then(
          () => { this.hard.signal.removeEventListener("abort", onAbort); resolve(true); },
          (e: unknown) => { this.hard.signal.removeEventListener("abort", onAbort); resolve(e instanceof Error ? e : new Error(String(e))); },
        );
      });
      if (acked === true) { this.stats.announced++; return true; }
      if (acked === false) return false;
      this.stats.announceRetried++;
      const wait = backoffDelay(attempt, this.backoff);
      this.log?.warn({ seq: it.meta.seq, attempt, err: acked, retry_in_ms: wait }, "chunk announcement failed, retrying");
      if (!(await sleep(wait, this.waits.signal))) return false; // stopping: announced on the next start
    }
  }

  /** Records the chunk as done (failure undefined) or failed, and writes the ledger. */
  private async settle(it: Item, failure: Extract<PutOutcome, { kind: "permanent" }> | undefined): Promise<void> {
    const { seq } = it.meta;
    this.phase.delete(seq);
    if (failure) {
      this.stats.failed++;
      this.ledger.markFailed({
        seq, error: failure.error, reason: failure.reason, at_ms: Math.round(this.clock()),
        ...(failure.status !== undefined ? { status: failure.status } : {}),
      });
      this.log?.error({ seq, status: failure.status, error: failure.error, reason: failure.reason }, "chunk upload refused: given up");
    } else {
      this.ledger.markDone(seq);
    }
    await this.save();
    if (!failure) {
      await this.keep.uploaded({ seq, file: it.file, sidecar: sidecarOf(it.file), bytes: it.meta.bytes });
      this.stats.deletedLocal = this.keep.deleted;
    }
  }

  /** Writes the ledger (concurrent calls are coalesced; resolves once the current state is on disk). */
  private save(): Promise<void> {
    if (this.saving) { this.saveAgain = true; return this.saving; }
    this.saving = (async () => {
      try {
        do {
          this.saveAgain = false;
          await this.ledger.save(this.stateFile, this.phase.keys(), this.clock());
        } while (this.saveAgain);
      } catch (e) {
        this.log?.error({ err: e }, "could not write the upload ledger");
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  private get idle(): boolean {
    return this.active === 0 && (this.queue.length === 0 || this.stopping);
  }

  private checkIdle(): void {
    if (!this.idle) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once nothing is queued, uploading or awaiting its announcement (or the uploader stopped). */
  drain(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops: no new uploads, retry waits dropped, in-flight uploads and announcements get up to
   * `graceMs` (default 10 s) to finish, then are aborted; the ledger is written.
   */
  stop(opts: { graceMs?: number } = {}): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.waits.abort();
      const left = this.queue.length;
      this.queue.length = 0;
      this.checkIdle();
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), opts.graceMs ?? 10_000); });
      const finished = await Promise.race([this.drain().then(() => true), graceOver]);
      clearTimeout(timer);
      if (!finished) {
        this.log?.warn({ uploading: this.uploading, announcing: this.announcing }, "grace period over: aborting in-flight uploads (retried on the next start)");
        this.hard.abort();
        await this.drain();
      }
      // phase holds every seq not settled: they stay below the ledger's reach until done
      await this.save();
      await (this.saving ?? Promise.resolve());
      this.agent.destroy();
      const unsent = [...this.phase.keys()].length;
      this.log?.info({ ...this.stats, left_queued: left, not_done: unsent, failed_total: this.ledger.failed().length }, "uploader stopped");
    })();
    return this.stopped;
  }
}
