/**
 * The uploader's ledger: which recorded chunks are done (the store accepted them and, with MQTT,
 * their announcement was acknowledged) and which failed for good, kept in {dataDir}/uploaded.json
 * and written atomically (temp file, fsync, rename) after changes.
 *
 * It stays small: `done_below` is a watermark (every seq below it is settled: done, or failed and
 * listed in `failed`); `done` lists only the done seqs at or above it (chunks finishing out of
 * order). `store` is the API the chunks went to: a ledger for another store is started afresh.
 * A crash between the store's answer and the ledger write only means the chunk is uploaded again
 * on the next start (the store answers 200 duplicate).
 */
import path from "node:path";
import { z } from "zod";
import { DeviceId } from "../../contracts/ids.ts";
import { readStateFile, writeFileAtomic } from "../../infra/state-file.ts";

const Seq = z.number().int().min(0);

export const FailedUpload = z.strictObject({
  seq: Seq,
  /** the store's HTTP status (absent: a local problem, e.g. the file is gone) */
  status: z.number().int().optional(),
  error: z.string(),
  reason: z.string(),
  at_ms: z.number().int(),
});
export type FailedUpload = z.output<typeof FailedUpload>;

export const UploadState = z.strictObject({
  v: z.literal(1),
  camera: DeviceId,
  /** the chunk store's base URL */
  store: z.string(),
  done_below: Seq,
  done: z.array(Seq),
  failed: z.array(FailedUpload),
  updated_ms: z.number().int(),
});
export type UploadState = z.output<typeof UploadState>;

export const uploadStateFile = (dataDir: string) => path.join(dataDir, "uploaded.json");

/** Failed chunks remembered at most (the oldest are forgotten first). */
const MAX_FAILED = 1000;

export class UploadLedger {
  private doneBelow: number;
  private readonly done: Set<number>;
  private readonly failedBySeq: Map<number, FailedUpload>;

  constructor(readonly camera: string, readonly store: string, state?: UploadState) {
    this.doneBelow = state?.done_below ?? 0;
    this.done = new Set(state?.done ?? []);
    this.failedBySeq = new Map((state?.failed ?? []).map((f) => [f.seq, f]));
  }

  /** Reads the ledger file (undefined when there is none). Throws on a corrupt file. */
  static read(file: string): Promise<UploadState | undefined> {
    return readStateFile(file, UploadState);
  }

  /** Every seq below this is settled. */
  get watermark(): number { return this.doneBelow; }

  isDone(seq: number): boolean {
    return this.done.has(seq) || (seq < this.doneBelow && !this.failedBySeq.has(seq));
  }

  failed(): FailedUpload[] {
    return [...this.failedBySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  markDone(seq: number): void {
    this.failedBySeq.delete(seq);
    if (seq >= this.doneBelow) this.done.add(seq);
  }

  markFailed(f: FailedUpload): void {
    this.done.delete(f.seq);
    this.failedBySeq.set(f.seq, f);
    if (this.failedBySeq.size > MAX_FAILED) {
      const oldest = Math.min(...this.failedBySeq.keys());
      this.failedBySeq.delete(oldest);
      // forgotten: it stays settled only if the watermark is past it; otherwise it is retried
    }
  }

  /**
   * The state to write. `unsettled`: seqs recorded but neither done nor failed (queued, in
   * flight, or left over by a stop); the watermark moves up to the lowest of them.
   */
  snapshot(unsettled: Iterable<number>, nowMs: number): UploadState {
    let lowest = Infinity;
    for (const s of unsettled) if (!this.failedBySeq.has(s) && s < lowest) lowest = s;
    if (lowest === Infinity) {
      let top = this.doneBelow - 1;
      for (const s of this.done) top = Math.max(top, s);
      for (const s of this.failedBySeq.keys()) top = Math.max(top, s);
      lowest = top + 1;
    }
    // move up only over seqs that are settled (a seq below `lowest` that is neither done nor
    // failed was never recorded here, e.g. deleted earlier: nothing to upload)
    this.doneBelow = Math.max(this.doneBelow, lowest);
    for (const s of this.done) if (s < this.doneBelow) this.done.delete(s);
    return {
      v: 1,
      camera: this.camera,
      store: this.store,
      done_below: this.doneBelow,
      done: [...this.done].sort((a, b) => a - b),
      failed: this.failed(),
      updated_ms: Math.round(nowMs),
    };
  }

  async save(file: string, unsettled: Iterable<number>, nowMs: number): Promise<void> {
    await writeFileAtomic(file, JSON.stringify(UploadState.parse(this.snapshot(unsettled, nowMs))) + "\n");
  }
}
