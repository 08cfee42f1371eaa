import { z } from "zod";
import { DeviceId, DoorwayId, SiteId } from "./ids.ts";
import { Timestamp } from "./time.ts";

/**
 * The demo's ground truth (`footfall up --demo`, site demo-mall), for checking the counts:
 * {data dir}/demo/acknowledged.jsonl, one line per crossing the broker acknowledged (PUBACK) to a
 * demo DPU, each once however many copies went; and {data dir}/demo/ground-truth.json, written
 * when the demo's walkers are stopped (SIGUSR2 to `footfall up`) or the demo stops.
 */
export const AcknowledgedCrossing = z.strictObject({
  device: DeviceId,
  id: z.string().min(1),
  /** as the DPU stamped it (its clock), epoch ms */
  ts: Timestamp,
  doorway: DoorwayId,
  delta: z.union([z.literal(1), z.literal(-1)]),
});
export type AcknowledgedCrossing = z.output<typeof AcknowledgedCrossing>;

export const DemoGroundTruth = z.strictObject({
  site: SiteId,
  /** when the walkers stopped (ISO 8601) */
  stoppedAt: z.string(),
  /** crossings the DPUs recorded in this run */
  crossings: z.number().int().min(0),
  /** of those, the ones the broker acknowledged */
  acknowledged: z.number().int().min(0),
  /** recorded but never acknowledged (still in a DPU's disk buffer): the stack may or may not have them */
  unacknowledged: z.number().int().min(0),
  /** every space's count from the acknowledged crossings of this run (a demo started on a fresh data folder starts at 0) */
  spaces: z.record(z.string(), z.number().int()),
  /** people inside the site by the same crossings */
  site_total: z.number().int(),
});
export type DemoGroundTruth = z.output<typeof DemoGroundTruth>;
