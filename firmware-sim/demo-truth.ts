import fs from "node:fs";
import path from "node:path";
import { OUTSIDE } from "../contracts/ids.ts";
import type { AcknowledgedCrossing, DemoGroundTruth } from "../contracts/demo-truth.ts";
import type { Logger } from "../infra/log.ts";
import { writeFileAtomic } from "../infra/state-file.ts";
import type { BuildingPlan } from "./building.ts";
import type { HeldCrossing } from "./crossing-buffer.ts";

/** Every space's count and the site's from crossings (each counted once), starting at 0. */
export function countsOfCrossings(plan: BuildingPlan, crossings: Iterable<{ doorway: string; delta: 1 | -1 }>): { spaces: Record<string, number>; site: number } {
  const spaces: Record<string, number> = Object.fromEntries(plan.spaces.map((s) => [s.id, 0]));
  const doors = new Map(plan.doorways.map((d) => [d.id, d]));
  let site = 0;
  for (const c of crossings) {
    const d = doors.get(c.doorway);
    if (!d) throw new RangeError(`doorway "${c.doorway}" is not in the plan of ${plan.site}`);
    // +1: from exiting_to into entering_to; -1 the reverse
    const [from, to] = c.delta === 1 ? [d.exiting_to, d.entering_to] : [d.entering_to, d.exiting_to];
    if (from !== OUTSIDE) spaces[from]! -= 1;
    if (to !== OUTSIDE) spaces[to]! += 1;
    if (from === OUTSIDE && to !== OUTSIDE) site++;
    if (to === OUTSIDE && from !== OUTSIDE) site--;
  }
  return { spaces, site };
}

/**
 * The ground truth of the live demo mall (contracts/demo-truth.ts): which crossings its DPUs
 * recorded and which of them the broker acknowledged. Each acknowledged crossing is appended to
 * {dir}/acknowledged.jsonl once (second copies and replays are not); write() puts every space's
 * count by those crossings into {dir}/ground-truth.json.
 */
export class DemoTruth {
  readonly journalFile: string;
  readonly truthFile: string;
  private readonly recordedIds = new Set<string>();
  private readonly acked = new Map<string, AcknowledgedCrossing>();
  private readonly journal: fs.WriteStream;
  private written: Promise<DemoGroundTruth> | undefined;

  constructor(private readonly plan: BuildingPlan, dir: string, log?: Logger) {
    fs.mkdirSync(dir, { recursive: true });
    this.journalFile = path.join(dir, "acknowledged.jsonl");
    this.truthFile = path.join(dir, "ground-truth.json");
    // this run's: an earlier run's truth does not describe it
    fs.rmSync(this.truthFile, { force: true });
    this.journal = fs.createWriteStream(this.journalFile, { flags: "w" });
    this.journal.on("error", (err) => log?.warn({ err, file: this.journalFile }, "the demo's ground truth journal could not be written"));
  }

  /** A DPU recorded a crossing (it may or may not reach the broker). */
  recorded(device: string, id: string): void { this.recordedIds.add(`${device}/${id}`); }

  /** The broker acknowledged these crossings of `device`. */
  acknowledged(device: string, crossings: readonly HeldCrossing[]): void {
    let lines = "";
    for (const c of crossings) {
      const key = `${device}/${c.id}`;
      if (this.acked.has(key)) continue;
      const a: AcknowledgedCrossing = { device, id: c.id, ts: c.ts, doorway: c.doorway, delta: c.delta };
      this.acked.set(key, a);
      lines += JSON.stringify(a) + "\n";
    }
    if (lines && !this.written) this.journal.write(lines);
  }

  /** The counts by the acknowledged crossings so far. */
  summary(stoppedAt: number): DemoGroundTruth {
    const { spaces, site } = countsOfCrossings(this.plan, this.acked.values());
    const unacknowledged = [...this.recordedIds].filter((k) => !this.acked.has(k)).length;
    return {
      site: this.plan.site, stoppedAt: new Date(stoppedAt).toISOString(), crossings: this.recordedIds.size,
      acknowledged: this.acked.size, unacknowledged, spaces, site_total: site,
    };
  }

  /** Closes the journal and writes ground-truth.json (atomically); once: later calls get the first one's. */
  write(stoppedAt: number): Promise<DemoGroundTruth> {
    this.written ??= (async () => {
      const truth = this.summary(stoppedAt);
      await new Promise<void>((resolve) => this.journal.end(resolve));
      await writeFileAtomic(this.truthFile, JSON.stringify(truth, null, 2) + "\n");
      return truth;
    })();
    return this.written;
  }
}
