import fs from "node:fs";
import path from "node:path";
import { CrossingEvent } from "../contracts/crossing.ts";
import type { Logger } from "../infra/log.ts";

/** A crossing as the firmware holds it: device clock ts in epoch ms. */
export interface HeldCrossing { id: string; ts: number; doorway: string; delta: 1 | -1 }

/**
 * A DPU's disk buffer: crossings recorded while it could not send, one JSON object per line.
 * Appends are synchronous (a crossing is on disk before record() returns); removals rewrite the
 * file through a temporary file and a rename, so a crash leaves either the old or the new list.
 * Loading validates every line and skips (and logs) the ones that are not a crossing.
 */
export class CrossingBuffer {
  private readonly held = new Map<string, HeldCrossing>();

  constructor(readonly file: string, private readonly log: Logger) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  /** Reads what the file holds (after a restart). Returns how many crossings it holds. */
  load(): number {
    this.held.clear();
    let text = "";
    try { text = fs.readFileSync(this.file, "utf8"); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    let skipped = 0;
    for (const [i, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue;
      let parsed: unknown;
      try { parsed = JSON.parse(line); } catch { parsed = undefined; }
      const r = CrossingEvent.safeParse(parsed);
      if (!r.success) {
        skipped++;
        this.log.warn({ file: this.file, line: i + 1, reason: r.error.issues[0]?.message ?? "not JSON" }, "skipping a bad line of the crossing buffer");
        continue;
      }
      this.held.set(r.data.id, r.data);
    }
    if (skipped > 0) this.rewrite();
    return this.held.size;
  }

  get size(): number { return this.held.size; }

  has(id: string): boolean { return this.held.has(id); }

  /** The held crossings in the order they were recorded. */
  crossings(): HeldCrossing[] { return [...this.held.values()]; }

  /** Appends a crossing (no-op if one with its id is already held). */
  add(c: HeldCrossing): boolean {
    if (this.held.has(c.id)) return false;
    const held: HeldCrossing = { id: c.id, ts: c.ts, doorway: c.doorway, delta: c.delta };
    fs.appendFileSync(this.file, JSON.stringify(held) + "\n");
    this.held.set(c.id, held);
    return true;
  }

  /** Drops crossings by id (they were acknowledged). Returns how many were held. */
  remove(ids: Iterable<string>): number {
    let n = 0;
    for (const id of ids) if (this.held.delete(id)) n++;
    if (n > 0) this.rewrite();
    return n;
  }

  private rewrite(): void {
    const tmp = `${this.file}.tmp`;
    const body = [...this.held.values()].map((c) => JSON.stringify(c) + "\n").join("");
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, this.file);
  }
}
