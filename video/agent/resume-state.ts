/**
 * The agent's resume state: a small JSON file in its data folder saying which chunk comes next
 * (sequence number), the wall time where it starts, and (for a seekable file source) the source
 * position where it starts. Written atomically (temp file, fsync, rename) after each chunk is
 * recorded, so a restart continues with the next number: no duplicate, no skipped number.
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import { z } from "zod";
import { DeviceId } from "../../contracts/ids.ts";

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

/** The JSON file at `file` parsed with `schema`, or undefined when there is none yet. Throws on a corrupt file. */
export async function readStateFile<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S> | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return schema.parse(JSON.parse(text));
}

/** The state at `file`, or undefined when there is none yet. Throws on a corrupt file. */
export const loadResumeState = (file: string): Promise<ResumeState | undefined> => readStateFile(file, ResumeState);

/** Writes `text` to `file` atomically: a reader sees the old or the new content, never a mix. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function saveResumeState(file: string, state: ResumeState): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(ResumeState.parse(state)) + "\n");
}
