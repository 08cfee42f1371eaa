import { z } from "zod";
import { DEFAULTS } from "../../infra/config.ts";
import { OccupancyParams } from "../timeline/late-horizon.ts";

export const DoorwayParams = OccupancyParams.extend({
  /** crossings stamped more than this ahead of the wall clock are refused (a device with a wrong clock would
   *  otherwise push the horizon forward and make every correct crossing "too late"); 0 accepts any */
  maxFutureMs: z.number().int().min(0).default(DEFAULTS.maxFutureMs),
});
export type DoorwayParams = z.output<typeof DoorwayParams>;
