/**
 * Where the chunk store keeps its index (which chunks exist, their tier and blob). Two kinds:
 *
 *   FileChunkIndex  index/{camera}/{YYYY-MM-DD}.jsonl under the store root, one JSON line per
 *                   change (the chunk's whole entry, last line wins, or a purge mark), rewritten
 *                   compactly after each sweep. One process only: changes by another process
 *                   are not seen until reopened. For a single API process and for tools.
 *   KvChunkIndex    NATS KV bucket ff_video_chunks, key "{camera}.{seq}", one entry per chunk.
 *                   Every process keeps a copy in memory, kept current by a watch; writes are
 *                   compare-and-set on the entry's revision, so two processes never both create,
 *                   change or remove one chunk. A lock (ff_video_locks, TTL) runs a job such as
 *                   the retention sweep in one process at a time. Several API processes behind
 *                   one address share it (their blobs on one shared path).
 *
 * The store (chunk-store.ts) owns the in-memory view; an index loads it and tells it of changes.
 */
import { appendFile, mkdir, readdir, readFile, rm, truncate } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { z } from "zod";
import { ChunkMeta } from "../../contracts/video.ts";
import { KV_VIDEO_CHUNKS, KV_VIDEO_LOCKS, VIDEO_LOCK_TTL_MS } from "../../contracts/nats-layout.ts";
import { KvFollow } from "../../infra/kv-follow.ts";
import { safeJson } from "../../infra/safe-json.ts";
import { writeFileAtomic } from "../../infra/state-file.ts";

export type Tier = "warm" | "cold";

/** What the store knows of one chunk. */
export interface ChunkEntry {
  /** the camera's signed record, as received */
  meta: ChunkMeta;
  tier: Tier;
  /** sha256 of the stored blob: meta.sha256 while warm, the compacted blob's once cold */
  blob: string;
  blob_bytes: number;
  /** resolution of the stored blob (smaller than the record's once compacted) */
  width: number;
  height: number;
  /** when the store received the chunk (epoch ms, store clock) */
  stored_ms: number;
  /** when the chunk moved to the cold tier */
  cold_ms?: number;
}

export const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
export const EntryLine = z.object({
  meta: ChunkMeta,
  tier: z.enum(["warm", "cold"]),
  blob: hex64,
  blob_bytes: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  stored_ms: z.number(),
  cold_ms: z.number().optional(),
});
const PurgeLine = z.object({ purged: z.literal(true), camera: z.string(), seq: z.number().int().min(0) });

const DAY_MS = 86_400_000;
export const utcDay = (ms: number): string => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

/** The store's in-memory view, as an index changes it. */
export interface IndexView {
  set(e: ChunkEntry): void;
  delete(camera: string, seq: number): void;
  /** the chunk as the view has it now */
  get(camera: string, seq: number): ChunkEntry | undefined;
}

/** The outcome of a job run under a lock: not run when another process holds it. */
export type Exclusive<T> = { ran: true; value: T } | { ran: false; holder: string };

export interface ChunkIndex {
  /** "file" (one process) or "nats-kv" (shared) */
  readonly kind: "file" | "nats-kv";
  /** loads every entry into the view and keeps it current */
  open(view: IndexView): Promise<void>;
  /** records a new chunk; when (camera, seq) exists already (another process won), returns the entry there */
  create(e: ChunkEntry): Promise<{ ok: true } | { ok: false; existing: ChunkEntry | undefined }>;
  /** replaces a chunk's entry; false when it changed or went meanwhile (another process) */
  update(old: ChunkEntry, next: ChunkEntry): Promise<boolean>;
  /** removes a chunk's entry; false when it was gone or changed meanwhile */
  remove(old: ChunkEntry): Promise<boolean>;
  /** drops superseded history of a camera (entries: its current ones) */
  compact(camera: string, entries: readonly ChunkEntry[]): Promise<void>;
  /** resolves once the view holds every change any process made before the call */
  sync(): Promise<void>;
  /** runs fn unless another run of `name` (in any process sharing the index) is under way */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<Exclusive<T>>;
  close(): void;
}

/** The index as JSONL files under `{root}/index` (one process). */
export class FileChunkIndex implements ChunkIndex {
  readonly kind = "file";
  private view: IndexView | undefined;
  private readonly running = new Set<string>();

  constructor(private readonly root: string, private readonly log?: Logger) {}

  async open(view: IndexView): Promise<void> {
    this.view = view;
    const indexDir = path.join(this.root, "index");
    await mkdir(indexDir, { recursive: true });
    for (const camera of await readdir(indexDir)) {
      const current = new Map<number, ChunkEntry>();
      const files = (await readdir(path.join(indexDir, camera))).filter((n) => n.endsWith(".jsonl")).sort();
      for (const name of files) {
        const file = path.join(indexDir, camera, name);
        let text = await readFile(file, "utf8");
        if (text.length > 0 && !text.endsWith("\n")) {
          // a torn last line (crash mid-append): cut it off, so the next append starts a new line
          const keep = text.lastIndexOf("\n") + 1;
          this.log?.warn({ file: name, camera, bytes: text.length - keep }, "cut off a torn last index line");
          await truncate(file, Buffer.byteLength(text.slice(0, keep)));
          text = text.slice(0, keep);
        }
        let n = 0;
        for (const line of text.split("\n")) {
          n++;
          if (!line.trim()) continue;
          let json: unknown;
          try { json = JSON.parse(line); } catch {
            this.log?.warn({ file: name, camera, line: n }, "skipped an unreadable index line (torn write?)");
            continue;
          }
          const purge = PurgeLine.safeParse(json);
          if (purge.success) { current.delete(purge.data.seq); continue; }
          const entry = EntryLine.safeParse(json);
          if (!entry.success) {
            this.log?.warn({ file: name, camera, line: n }, "skipped an invalid index line");
            continue;
          }
          const e = entry.data as ChunkEntry;
          if (e.cold_ms === undefined) delete e.cold_ms;
          current.set(e.meta.seq, e);
        }
      }
      for (const e of current.values()) view.set(e);
    }
  }

  async create(e: ChunkEntry): Promise<{ ok: true } | { ok: false; existing: ChunkEntry | undefined }> {
    const existing = this.view!.get(e.meta.camera, e.meta.seq);
    if (existing) return { ok: false, existing };
    await this.appendLine(e.meta.camera, e.meta.start_ms, e);
    this.view!.set(e);
    return { ok: true };
  }

  async update(old: ChunkEntry, next: ChunkEntry): Promise<boolean> {
    if (this.view!.get(old.meta.camera, old.meta.seq) !== old) return false;
    await this.appendLine(old.meta.camera, old.meta.start_ms, next);
    this.view!.set(next);
    return true;
  }

  async remove(old: ChunkEntry): Promise<boolean> {
    const { camera, seq } = old.meta;
    if (this.view!.get(camera, seq) !== old) return false;
    await this.appendLine(camera, old.meta.start_ms, { purged: true, camera, seq });
    this.view!.delete(camera, seq);
    return true;
  }

  async compact(camera: string, entries: readonly ChunkEntry[]): Promise<void> {
    const dir = path.join(this.root, "index", camera);
    const days = new Map<string, ChunkEntry[]>();
    for (const e of entries) {
      const d = utcDay(e.meta.start_ms);
      let l = days.get(d);
      if (!l) days.set(d, (l = []));
      l.push(e);
    }
    let names: string[] = [];
    try { names = await readdir(dir); } catch { return; }
    for (const name of names) {
      const m = /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(name);
      if (!m) continue;
      const list = days.get(m[1]!);
      if (!list) await rm(path.join(dir, name), { force: true });
      else await writeFileAtomic(path.join(dir, name), list.map((e) => JSON.stringify(e)).join("\n") + "\n");
    }
  }

  sync(): Promise<void> { return Promise.resolve(); }

  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<Exclusive<T>> {
    if (this.running.has(name)) return { ran: false, holder: `this process (pid ${process.pid})` };
    this.running.add(name);
    try { return { ran: true, value: await fn() }; } finally { this.running.delete(name); }
  }

  close(): void {}

  private async appendLine(camera: string, start_ms: number, line: object): Promise<void> {
    const dir = path.join(this.root, "index", camera);
    await mkdir(dir, { recursive: true });
    await appendFile(path.join(dir, `${utcDay(start_ms)}.jsonl`), JSON.stringify(line) + "\n");
  }
}

const keyOf = (camera: string, seq: number) => `${camera}.${seq}`;
const LockValue = z.object({ holder: z.string(), since: z.number() });

/** The index in NATS KV (ff_video_chunks), shared by every process that opens it. */
export class KvChunkIndex implements ChunkIndex {
  readonly kind = "nats-kv";
  private view: IndexView | undefined;
  /** key → revision of the entry the view holds */
  private readonly revisions = new Map<string, number>();
  /** highest revision applied to the view */
  private seen = 0;
  private waiters: Array<{ rev: number; resolve: () => void }> = [];
  private follower: KvFollow | undefined;
  private closed = false;
  private readonly holder = `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;

  private constructor(
    private readonly kv: KV, private readonly locks: KV, private readonly jsm: JetStreamManager,
    private readonly bucket: string, private readonly log?: Logger,
  ) {}

  /** Opens the provisioned buckets (infra/provision.ts). */
  static async connect(nc: NatsConnection, log?: Logger, buckets = { chunks: KV_VIDEO_CHUNKS, locks: KV_VIDEO_LOCKS }): Promise<KvChunkIndex> {
    const kvm = new Kvm(nc);
    return new KvChunkIndex(await kvm.open(buckets.chunks), await kvm.open(buckets.locks), await jetstreamManager(nc), buckets.chunks, log);
  }

  async open(view: IndexView): Promise<void> {
    this.view = view;
    this.follower = new KvFollow(this.kv, { apply: (e) => this.apply(e), after: () => this.seen, what: "chunk index", log: this.log });
    await this.follower.start();
    await this.sync();
  }

  async create(e: ChunkEntry): Promise<{ ok: true } | { ok: false; existing: ChunkEntry | undefined }> {
    const key = keyOf(e.meta.camera, e.meta.seq);
    let rev: number;
    try {
      rev = await this.kv.create(key, JSON.stringify(e));
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
      await this.sync();
      return { ok: false, existing: this.view!.get(e.meta.camera, e.meta.seq) };
    }
    await this.applied(rev);
    return { ok: true };
  }

  async update(old: ChunkEntry, next: ChunkEntry): Promise<boolean> {
    const key = keyOf(old.meta.camera, old.meta.seq);
    const was = this.revisions.get(key);
    if (was === undefined || this.view!.get(old.meta.camera, old.meta.seq) !== old) return false;
    try {
      await this.applied(await this.kv.update(key, JSON.stringify(next), was));
      return true;
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
      await this.sync();
      return false;
    }
  }

  async remove(old: ChunkEntry): Promise<boolean> {
    const key = keyOf(old.meta.camera, old.meta.seq);
    const was = this.revisions.get(key);
    if (was === undefined || this.view!.get(old.meta.camera, old.meta.seq) !== old) return false;
    try {
      await this.kv.delete(key, { previousSeq: was });
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
      await this.sync();
      return false;
    }
    await this.sync();
    return true;
  }

  /** KV keeps one entry per chunk: nothing to compact. */
  compact(): Promise<void> { return Promise.resolve(); }

  async sync(): Promise<void> {
    const state = (await this.jsm.streams.info(`KV_${this.bucket}`)).state;
    if (state.messages === 0) return;
    await this.applied(state.last_seq);
  }

  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<Exclusive<T>> {
    const value = JSON.stringify({ holder: this.holder, since: Date.now() });
    let rev: number;
    try {
      rev = await this.locks.create(name, value);
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
      const cur = await this.locks.get(name);
      const parsed = cur ? LockValue.safeParse(safeJson(cur.string())) : undefined;
      return { ran: false, holder: parsed?.success ? parsed.data.holder : "another process" };
    }
    // renewed well within the bucket's TTL while fn runs, so a live holder never loses it
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = this.locks.update(name, value, rev).then((r) => { rev = r; }, (err: unknown) => {
        this.log?.warn({ err, lock: name }, "could not renew a chunk store lock");
      });
    }, Math.floor(VIDEO_LOCK_TTL_MS / 3));
    timer.unref();
    try {
      return { ran: true, value: await fn() };
    } finally {
      clearInterval(timer);
      await renewing;
      await this.locks.delete(name, { previousSeq: rev }).catch((err: unknown) => this.log?.warn({ err, lock: name }, "could not release a chunk store lock"));
    }
  }

  close(): void {
    this.closed = true;
    this.follower?.stop();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Resolves once the view has applied revision `rev`. */
  private applied(rev: number): Promise<void> {
    if (this.seen >= rev || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ rev, resolve }));
  }

  private apply(e: KvWatchEntry): void {
    const m = /^(.+)\.(\d+)$/.exec(e.key);
    if (m) {
      const camera = m[1]!, seq = Number(m[2]);
      if (e.operation === "DEL" || e.operation === "PURGE") {
        this.revisions.delete(e.key);
        this.view!.delete(camera, seq);
      } else {
        const parsed = EntryLine.safeParse(safeJson(e.string()));
        if (parsed.success && parsed.data.meta.camera === camera && parsed.data.meta.seq === seq) {
          const entry = parsed.data as ChunkEntry;
          if (entry.cold_ms === undefined) delete entry.cold_ms;
          this.revisions.set(e.key, e.revision);
          this.view!.set(entry);
        } else {
          this.log?.warn({ key: e.key, revision: e.revision }, "chunk index entry ignored: not a valid entry for its key");
        }
      }
    }
    if (e.revision > this.seen) this.seen = e.revision;
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((w) => w.rev <= this.seen);
      this.waiters = this.waiters.filter((w) => w.rev > this.seen);
      for (const w of ready) w.resolve();
    }
  }
}

/** A KV compare-and-set that lost: the key exists (create) or has another revision (update, delete). */
function isWrongRevision(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ""} ${String((err as { code?: unknown })?.code ?? "")} ${String((err as { api_error?: { err_code?: unknown } })?.api_error?.err_code ?? "")}`;
  return /wrong last sequence|10071|key exists/i.test(text);
}
