import { z } from "zod";
import { PointDef } from "./geometry.ts";
import { SiteId, SpaceId } from "./ids.ts";

/**
 * The wall page (dashboards/wall/): served at /wall/{site} by the API process, its bundle under
 * /wall/assets/. The page reads everything else through /api/v1 (with the `ff_key` cookie) and
 * the live feed (contracts/live-protocol.ts).
 */
export const WALL_PATH = "/wall";
export const WALL_ASSETS_PATH = "/wall/assets";
export const WALL_PLAN_VERSION = 1;

/** A space as the wall draws it. */
export const WallSpace = z.strictObject({
  id: SpaceId,
  name: z.string(),
  capacity: z.number().int().positive().nullable(),
  /** outline on the floor plan (metres), null when the space has none */
  polygon: z.array(PointDef).nullable(),
  /** a DPU sits on one of its doorways: it has a DPU count */
  dpu: z.boolean(),
  /** cameras that see it (with a polygon: it has a camera count) */
  cameras: z.array(z.string()),
});
export type WallSpace = z.infer<typeof WallSpace>;

/** A camera on the plan: where it looks from (derived from its calibration) and the floor it was calibrated on. */
export const WallCamera = z.strictObject({
  id: z.string(),
  sees: z.array(SpaceId),
  /** the nearest floor point of its image (bottom centre), metres; null without a usable calibration */
  at: PointDef.nullable(),
  /** unit vector on the floor, the direction it looks in */
  heading: PointDef.nullable(),
  /** convex hull of its calibration's floor points */
  view: z.array(PointDef).nullable(),
});
export type WallCamera = z.infer<typeof WallCamera>;

/** GET /wall/{site}/plan.json (same access as the page): what the wall needs of the site's topology. */
export const WallPlan = z.strictObject({
  v: z.literal(WALL_PLAN_VERSION),
  site: SiteId,
  spaces: z.array(WallSpace),
  cameras: z.array(WallCamera),
  /** DPUs of the site */
  dpus: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type WallPlan = z.infer<typeof WallPlan>;

/**
 * GET /wall/{site}/stills.json (same access as the page): the cameras of the site that have a
 * still now (footfall's camera agent sends one every few seconds), so the page asks only those
 * for it.
 */
export const WallStills = z.strictObject({
  site: SiteId,
  cameras: z.array(z.string()),
});
export type WallStills = z.infer<typeof WallStills>;
