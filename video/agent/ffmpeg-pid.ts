/**
 * The segmenter's ffmpeg pid file, so a restarted agent can stop an ffmpeg left running by a
 * crashed one (a child outlives a SIGKILLed parent and would keep writing chunk files).
 * Only a process whose command line still names the agent's chunk folder is stopped, so a pid
 * reused by another program is left alone.
 */
import { readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";

interface PidRecord { pid: number; outDir: string }

export async function writeFfmpegPid(pidFile: string, pid: number, outDir: string): Promise<void> {
  await writeFile(pidFile, JSON.stringify({ pid, outDir } satisfies PidRecord) + "\n");
}

export async function removeFfmpegPid(pidFile: string): Promise<void> {
  await rm(pidFile, { force: true });
}

function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops (SIGKILL) the ffmpeg named in `pidFile` if it still runs for `outDir`; true if one was stopped. */
export async function stopOrphanFfmpeg(pidFile: string, outDir: string): Promise<boolean> {
  let rec: PidRecord;
  try {
    rec = JSON.parse(await readFile(pidFile, "utf8")) as PidRecord;
  } catch {
    return false;
  }
  const cmdline = commandLineOf(rec.pid);
  let stopped = false;
  if (rec.outDir === outDir && cmdline?.includes("ffmpeg") && cmdline.includes(outDir)) {
    try {
      process.kill(rec.pid, "SIGKILL");
      stopped = true;
    } catch { /* gone meanwhile */ }
    for (let i = 0; i < 50 && commandLineOf(rec.pid) !== undefined; i++) await sleep(20);
  }
  await removeFfmpegPid(pidFile);
  return stopped;
}
