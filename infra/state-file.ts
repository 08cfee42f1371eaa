/**
 * Small JSON state files of long-running processes (the camera agent's resume state and upload
 * ledger, the detector's sequence, the chunk store's index and settings), written atomically
 * (temp file, fsync, rename): a reader, or a process restarted after SIGKILL, sees the old or the
 * new content, never a mix.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import type { z } from "zod";

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

/**
 * Writes `text` to `file` atomically: a reader sees the old or the new content, never a mix. Each
 * call has its own temp file, so two writes of one file at once never write into each other's.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
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
