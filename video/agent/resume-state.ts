/**
 * The agent's resume state: a small JSON file in its data folder saying which chunk comes next
 * (sequence number), the wall time where it starts, and (for a seekable file source) the source
 * position where it starts. Written atomically (temp file, fsync, rename) after each chunk is
 * recorded, so a restart continues with the next number: no duplicate, no skipped number.
 */
import { z } from "zod";
import { DeviceId } from "../../contracts/ids.ts";
import { readStateFile, writeFileAtomic } from "../../infra/state-file.ts";

export const ResumeState = z.strictObject({
  v: z.literal(1),
  camera: DeviceId,
  /** sequence number of the next chunk */
  next_seq: z.number().int().min(0),
  /** wall time (epoch ms) where the last recorded chunk ended = where the next one would start */
  next_start_ms: z.number().int(),
  /** seconds into a seekable (file) source where the next chunk starts; 0 for live sources */
  source_offset_s: z.number().min(0),
  updated_ms: z.number().int(),
});
export type ResumeState = z.output<typeof ResumeState>;

/** The state at `file`, or undefined when there is none yet. Throws on a corrupt file. */
export const loadResumeState = (file: string): Promise<ResumeState | undefined> => readStateFile(file, ResumeState);

export async function saveResumeState(file: string, state: ResumeState): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(ResumeState.parse(state)) + "\n");
}
