import { z } from "zod";

/** Parameters of the zone actor (camera-based occupancy, dwell and line counts of one space). */
export const ZoneParams = z.strictObject({
  /** persons whose newest instant is older than this before the zone's newest are forgotten, with the counts that old (s) */
  keepS: z.number().default(2 * 3600),
  /** a visit longer than this is refused as invalid (s) */
  maxVisitS: z.number().default(24 * 3600),
  /** stream time between two prunings (ms) */
  pruneEveryMs: z.number().default(60_000),
});
export type ZoneParams = z.output<typeof ZoneParams>;
