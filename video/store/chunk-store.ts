/**
 * The chunk store: content-addressed video blobs plus a metadata index of the cameras' chunks.
 *
 * Layout under `root` (with several API processes: one shared path, e.g. FOOTFALL_DATA_DIR on
 * a shared file system, the same for all of them):
 *   blobs/ab/cdef...                 a blob, named by the sha256 (hex) of its bytes
 *   retention.json                   the retention policy (retention.ts)
 * The index (which chunks exist, their tier and blob) is kept by a ChunkIndex (chunk-index.ts):
 * in NATS KV, shared by every process (what the API uses), or in JSONL files under index/ for a
 * single process. Every process holds the index in memory; sync() brings it up to date with
 * changes made elsewhere (the API calls it before answering reads).
 *
 * A chunk is put from a file: the record (contracts/video.ts' ChunkMeta) must be valid and signed
 * with the camera's key (looked up through `keyOf`), and the file's sha256 and size must match
 * it. The same record again is a no-op; a different record for the same (camera, seq) is
 * refused. Chunks start in the warm tier; retention (retention.ts) moves them to the cold tier
 * (a re-encoded, smaller blob) and purges them. A blob is removed when no chunk refers to it.
 *
 * Mutations are serialised within a process; between processes the index's compare-and-set
 * decides (of two puts of one chunk one stores, the other sees a duplicate or a conflict; of two
 * purges one purges).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import type { Logger } from "pino";
import { ChunkMeta } from "../../contracts/video.ts";
import { verifyChunkMeta, type CameraKey } from "../chunk/chunk-meta.ts";
import { sha256File } from "../chunk/file-sha256.ts";
import { FileChunkIndex, hex64, type ChunkEntry, type ChunkIndex, type Exclusive, type IndexView, type Tier } from "./chunk-index.ts";

export { utcDay, type ChunkEntry, type Tier } from "./chunk-index.ts";

export type PutRefusal = "invalid_record" | "unknown_camera" | "bad_signature" | "hash_mismatch" | "conflict";
export type PutResult =
  | { ok: true; status: "stored" | "duplicate"; entry: ChunkEntry }
  | { ok: false; code: PutRefusal; reason: string };

export interface ChunkStoreOptions {
  root: string;
  /** the key a camera signs its records with; undefined = unknown camera */
  keyOf: (camera: string) => CameraKey | undefined | Promise<CameraKey | undefined>;
  /** the store's clock (epoch ms) */
  clock?: () => number;
  log?: Logger;
  /** where the index is kept (default: JSONL files under root, one process) */
  index?: ChunkIndex;
}

/** sha256 and size of a stream's bytes while they are copied to `dest`. */
async function copyHashing(src: string, dest: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) { h.update(chunk); bytes += chunk.length; cb(null, chunk); },
  });
  await pipeline(createReadStream(src), tap, createWriteStream(dest, { flags: "wx" }));
  return { sha256: h.digest("hex"), bytes };
}

export class ChunkStore {
  readonly root: string;
  readonly index: ChunkIndex;
  private readonly keyOf: ChunkStoreOptions["keyOf"];
  private readonly clock: () => number;
  private readonly log: Logger | undefined;
  /** camera → its chunks sorted by start_ms */
  private readonly byCamera = new Map<string, ChunkEntry[]>();
  /** blob sha256 → number of chunks that refer to it */
  private readonly refs = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(opts: ChunkStoreOptions) {
    this.root = path.resolve(opts.root);
    this.keyOf = opts.keyOf;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.log;
    this.index = opts.index ?? new FileChunkIndex(this.root, opts.log);
  }

  /** Opens (creating if needed) the store at `opts.root` and reads its index. */
  static async open(opts: ChunkStoreOptions): Promise<ChunkStore> {
    const s = new ChunkStore(opts);
    await mkdir(path.join(s.root, "blobs"), { recursive: true });
    const view: IndexView = {
      set: (e) => s.setEntry(e),
      delete: (camera, seq) => s.deleteEntry(camera, seq),
      get: (camera, seq) => s.get(camera, seq),
    };
    await s.index.open(view);
    return s;
  }

  /** Brings the in-memory index up to date with every change made before (by any process). */
  sync(): Promise<void> {
    return this.index.sync();
  }

  /** Runs fn unless a run of `name` is under way in any process sharing the index (see ChunkIndex). */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<Exclusive<T>> {
    return this.index.exclusive(name, fn);
  }

  close(): void {
    this.index.close();
  }

  blobPath(sha256: string): string {
    if (!hex64.safeParse(sha256).success) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.root, "blobs", sha256.slice(0, 2), sha256.slice(2));
  }

  /** True when the store holds a blob with this sha256 that a chunk refers to. */
  hasBlob(sha256: string): boolean {
    return (this.refs.get(sha256) ?? 0) > 0;
  }

  cameras(): string[] {
    return [...this.byCamera.keys()].filter((c) => (this.byCamera.get(c)?.length ?? 0) > 0).sort();
  }

  /** All chunks of a camera in time order (a copy). */
  all(camera: string): ChunkEntry[] {
    return [...(this.byCamera.get(camera) ?? [])];
  }

  get(camera: string, seq: number): ChunkEntry | undefined {
    return this.byCamera.get(camera)?.find((e) => e.meta.seq === seq);
  }

  /** The camera's recorded span: first chunk's start to last chunk's end (undefined: none). */
  span(camera: string): { from_ms: number; to_ms: number } | undefined {
    const list = this.byCamera.get(camera);
    if (!list || list.length === 0) return undefined;
    return { from_ms: list[0]!.meta.start_ms, to_ms: list.at(-1)!.meta.end_ms };
  }

  /** Chunks of `camera` overlapping [from, to), in time order. */
  query(camera: string, from: number, to: number): ChunkEntry[] {
    const list = this.byCamera.get(camera);
    if (!list || to <= from) return [];
    // first chunk starting at or after `to`
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.meta.start_ms < to) lo = mid + 1; else hi = mid;
    }
    const out: ChunkEntry[] = [];
    for (let i = lo - 1; i >= 0; i--) {
      const e = list[i]!;
      if (e.meta.end_ms <= from) break; // chunks do not overlap: earlier ones end earlier still
      out.push(e);
    }
    return out.reverse();
  }

  /** Bytes of the distinct blobs of the given chunks. */
  static blobBytes(entries: Iterable<ChunkEntry>): number {
    const seen = new Map<string, number>();
    for (const e of entries) seen.set(e.blob, e.blob_bytes);
    let n = 0;
    for (const b of seen.values()) n += b;
    return n;
  }

  /** Runs `fn` after every mutation queued before it (one mutation at a time). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => {});
    return p;
  }

  /**
   * Stores the chunk at `file` with its signed record (see the file comment for the checks).
   * `key`: the camera's key when the caller has it (the HTTP upload: the secret the camera just
   * authenticated with); otherwise it is looked up through `keyOf`.
   */
  put(record: unknown, file: string, key?: CameraKey): Promise<PutResult> {
    return this.serial(() => this.putNow(record, file, key));
  }

  /** The chunks whose stored blob is `sha256` (usually one). */
  byBlob(sha256: string): ChunkEntry[] {
    const out: ChunkEntry[] = [];
    if (!this.refs.has(sha256)) return out;
    for (const list of this.byCamera.values()) for (const e of list) if (e.blob === sha256) out.push(e);
    return out;
  }

  private sameRecord(existing: ChunkEntry, meta: ChunkMeta): PutResult {
    if (existing.meta.sig === meta.sig && existing.meta.sha256 === meta.sha256) return { ok: true, status: "duplicate", entry: existing };
    return { ok: false, code: "conflict", reason: `chunk ${meta.camera}/${meta.seq} is already stored with a different record (sha256 ${existing.meta.sha256})` };
  }

  private async putNow(record: unknown, file: string, givenKey?: CameraKey): Promise<PutResult> {
    const parsed = ChunkMeta.safeParse(record);
    if (!parsed.success) {
      return { ok: false, code: "invalid_record", reason: `invalid chunk record: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
    }
    const meta = parsed.data;
    const key = givenKey ?? await this.keyOf(meta.camera);
    if (key === undefined) return { ok: false, code: "unknown_camera", reason: `camera ${meta.camera} is not known to the store` };
    if (!verifyChunkMeta(meta, key)) {
      return { ok: false, code: "bad_signature", reason: `the signature of chunk ${meta.camera}/${meta.seq} does not verify with the camera's key` };
    }
    await this.sync();
    const existing = this.get(meta.camera, meta.seq);
    if (existing) return this.sameRecord(existing, meta);
    const overlap = this.query(meta.camera, meta.start_ms, Math.max(meta.end_ms, meta.start_ms + 1));
    if (overlap.length > 0) {
      return { ok: false, code: "conflict", reason: `chunk ${meta.camera}/${meta.seq} overlaps chunk ${overlap[0]!.meta.seq} in time` };
    }

    // copy into the blob folder while hashing the copy (what is stored is what was checked)
    const dest = this.blobPath(meta.sha256);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    let hash: { sha256: string; bytes: number };
    try {
      hash = await copyHashing(file, tmp);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    if (hash.sha256 !== meta.sha256 || hash.bytes !== meta.bytes) {
      await rm(tmp, { force: true });
      return { ok: false, code: "hash_mismatch", reason: `the file of chunk ${meta.camera}/${meta.seq} has sha256 ${hash.sha256} (${hash.bytes} bytes), the record says ${meta.sha256} (${meta.bytes} bytes)` };
    }
    await rename(tmp, dest);
    const entry: ChunkEntry = {
      meta, tier: "warm", blob: meta.sha256, blob_bytes: meta.bytes, width: meta.width, height: meta.height, stored_ms: this.clock(),
    };
    const created = await this.index.create(entry);
    if (!created.ok) {
      // another process stored this chunk meanwhile (the blob it wrote is the same bytes)
      if (created.existing) return this.sameRecord(created.existing, meta);
      return { ok: false, code: "conflict", reason: `chunk ${meta.camera}/${meta.seq} was stored and removed meanwhile by another process` };
    }
    // a twin blob purged by another process between our rename and our index entry: put it back
    if (!(await exists(dest))) {
      this.log?.warn({ camera: meta.camera, seq: meta.seq }, "blob removed meanwhile by another process; copying it again");
      await copyHashing(file, tmp);
      await rename(tmp, dest);
    }
    return { ok: true, status: "stored", entry: this.get(meta.camera, meta.seq) ?? entry };
  }

  /**
   * Replaces a chunk's blob with `file` (already written, e.g. a compacted re-encode): moves it
   * into the blob folder under its sha256, updates the entry, removes the old blob when no
   * other chunk refers to it.
   */
  replaceBlob(camera: string, seq: number, file: string, change: { tier: Tier; width: number; height: number; cold_ms?: number }): Promise<ChunkEntry> {
    return this.serial(async () => {
      const old = this.get(camera, seq);
      if (!old) throw new Error(`no chunk ${camera}/${seq}`);
      const { sha256: sha, bytes } = await sha256File(file);
      const dest = this.blobPath(sha);
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(file, dest);
      const entry: ChunkEntry = { ...old, ...change, blob: sha, blob_bytes: bytes };
      if (!(await this.index.update(old, entry))) {
        await this.dropBlobIfUnused(sha);
        throw new Error(`chunk ${camera}/${seq} was changed meanwhile by another process`);
      }
      await this.dropBlobIfUnused(old.blob);
      return this.get(camera, seq) ?? entry;
    });
  }

  /** Marks a chunk's tier without changing its blob (e.g. cold when compaction did not shrink it). */
  setTier(camera: string, seq: number, tier: Tier, cold_ms?: number): Promise<ChunkEntry> {
    return this.serial(async () => {
      const old = this.get(camera, seq);
      if (!old) throw new Error(`no chunk ${camera}/${seq}`);
      const entry: ChunkEntry = { ...old, tier, ...(cold_ms !== undefined ? { cold_ms } : {}) };
      if (!(await this.index.update(old, entry))) throw new Error(`chunk ${camera}/${seq} was changed meanwhile by another process`);
      return this.get(camera, seq) ?? entry;
    });
  }

  /** Removes a chunk (index entry, and its blob when unreferenced). False when absent (or removed meanwhile by another process). */
  purge(camera: string, seq: number): Promise<boolean> {
    return this.serial(async () => {
      const old = this.get(camera, seq);
      if (!old) return false;
      if (!(await this.index.remove(old))) return false;
      await this.dropBlobIfUnused(old.blob);
      return true;
    });
  }

  /** Drops the superseded history of `camera`'s index (file index: rewrites its files with only the current entries). */
  compactIndex(camera: string): Promise<void> {
    return this.serial(() => this.index.compact(camera, this.all(camera)));
  }

  private setEntry(e: ChunkEntry): void {
    const old = this.get(e.meta.camera, e.meta.seq);
    if (old) this.remove(old);
    this.insert(e);
  }

  private deleteEntry(camera: string, seq: number): void {
    const old = this.get(camera, seq);
    if (old) this.remove(old);
  }

  private insert(e: ChunkEntry): void {
    let list = this.byCamera.get(e.meta.camera);
    if (!list) this.byCamera.set(e.meta.camera, (list = []));
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.meta.start_ms <= e.meta.start_ms) lo = mid + 1; else hi = mid;
    }
    list.splice(lo, 0, e);
    this.refs.set(e.blob, (this.refs.get(e.blob) ?? 0) + 1);
  }

  private remove(e: ChunkEntry): void {
    const list = this.byCamera.get(e.meta.camera);
    const i = list?.indexOf(e) ?? -1;
    if (i >= 0) list!.splice(i, 1);
    const n = (this.refs.get(e.blob) ?? 1) - 1;
    if (n > 0) this.refs.set(e.blob, n); else this.refs.delete(e.blob);
  }

  private async dropBlobIfUnused(sha: string): Promise<void> {
    await this.sync();
    if ((this.refs.get(sha) ?? 0) > 0) return;
    await rm(this.blobPath(sha), { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try { await stat(file); return true; } catch { return false; }
}
