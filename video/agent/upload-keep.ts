/**
 * The local keep policy for uploaded chunks: by default every chunk stays on the camera's disk;
 * with a byte budget, the oldest uploaded chunks (file and sidecar) are deleted once the uploaded
 * chunks still on disk exceed it. Chunks not yet uploaded (queued, retrying, failed) are never
 * deleted and do not count against the budget.
 */
import { rm } from "node:fs/promises";
import type { Logger } from "pino";

export interface KeptChunk {
  seq: number;
  file: string;
  sidecar: string;
  bytes: number;
}

export class LocalChunkKeep {
  private readonly kept = new Map<number, KeptChunk>();
  private total = 0;
  /** chunks deleted so far */
  deleted = 0;

  /** keepBytes: budget for uploaded chunks on disk (undefined: keep everything) */
  constructor(private readonly keepBytes: number | undefined, private readonly log?: Logger) {}

  get enabled(): boolean { return this.keepBytes !== undefined; }

  /** Notes an uploaded chunk on disk and deletes the oldest ones beyond the budget. */
  async uploaded(c: KeptChunk): Promise<void> {
    if (this.keepBytes === undefined || this.kept.has(c.seq)) return;
    this.kept.set(c.seq, c);
    this.total += c.bytes;
    while (this.total > this.keepBytes && this.kept.size > 0) {
      const oldest = Math.min(...this.kept.keys());
      const victim = this.kept.get(oldest)!;
      this.kept.delete(oldest);
      this.total -= victim.bytes;
      // the chunk file first: a sidecar without its chunk is skipped by the next start's scan
      await rm(victim.file, { force: true });
      await rm(victim.sidecar, { force: true });
      this.deleted++;
      this.log?.debug({ seq: victim.seq, bytes: victim.bytes }, "deleted an uploaded chunk (local keep budget)");
    }
  }
}
