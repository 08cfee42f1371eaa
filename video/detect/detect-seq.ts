/**
 * The detection agent's frame counter (`seq` of the camera event contract), continued across
 * restarts through a small JSON state file:
 *
 *   {"v": 1, "camera": "cam-1", "next_seq": 2000, "clean": false, "updated_ms": ...}
 *
 * While running, the file holds an upper bound: seq numbers are reserved in blocks (default 1,000
 * frames, 200 s at 5 fps) and the file is rewritten (atomically) only when a block is used up.
 * A clean stop writes the exact next seq. So after a clean stop the next run continues without a
 * gap; after a crash (SIGKILL, power loss) it continues after the reserved block — a gap the
 * camera actor gives up after FOOTFALL_CAMERA_REORDER_MS — and never reuses a number.
 * Without a state file seq starts at 0 each run, which the contract allows because every run's
 * frame times are newer than the last run's (wall-clock start), and oids carry the frame time.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { DeviceId } from "../../contracts/ids.ts";
import { readStateFile, writeFileAtomic } from "../../infra/state-file.ts";

export const SeqState = z.strictObject({
  v: z.literal(1),
  camera: DeviceId,
  next_seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** true when written by a clean stop (next_seq exact), false while running (next_seq reserved) */
  clean: z.boolean(),
  updated_ms: z.number().int(),
});
export type SeqState = z.output<typeof SeqState>;

export const loadSeqState = (file: string): Promise<SeqState | undefined> => readStateFile(file, SeqState);

export class SeqCounter {
  private reservedTo: number;

  private constructor(
    private readonly camera: string,
    private readonly file: string | undefined,
    private readonly block: number,
    private nextSeq: number,
  ) {
    this.reservedTo = nextSeq;
  }

  /** Opens the counter: from the state file's next_seq, or 0 without a file (or a new one). */
  static async open(camera: string, file?: string, block = 1000): Promise<SeqCounter> {
    if (!(Number.isInteger(block) && block >= 1)) throw new Error(`block must be an integer ≥ 1, got ${block}`);
    let start = 0;
    if (file) {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      const s = await loadSeqState(file);
      if (s && s.camera !== camera) throw new Error(`${file} holds the frame counter of camera ${s.camera}, not ${camera}`);
      start = s?.next_seq ?? 0;
    }
    const c = new SeqCounter(camera, file, block, start);
    await c.reserve();
    return c;
  }

  /** the seq the next frame gets */
  get next(): number {
    return this.nextSeq;
  }

  /** Takes the next seq (reserving the next block in the file first when this one is used up). */
  async take(): Promise<number> {
    if (this.nextSeq >= this.reservedTo) await this.reserve();
    return this.nextSeq++;
  }

  /** Writes the exact next seq (a clean stop). */
  async close(): Promise<void> {
    await this.write(this.nextSeq, true);
    this.reservedTo = this.nextSeq;
  }

  private async reserve(): Promise<void> {
    const to = this.nextSeq + this.block;
    await this.write(to, false);
    this.reservedTo = to;
  }

  private async write(nextSeq: number, clean: boolean): Promise<void> {
    if (!this.file) return;
    const state: SeqState = { v: 1, camera: this.camera, next_seq: nextSeq, clean, updated_ms: Date.now() };
    await writeFileAtomic(this.file, JSON.stringify(SeqState.parse(state)) + "\n");
  }
}
