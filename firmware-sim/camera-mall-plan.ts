import type { Point } from "../contracts/geometry.ts";
import type { CountingLine, DoorwayDef, SpaceDef } from "../contracts/topology.ts";
import type { BuildingPlan, PlanDpu } from "./building.ts";
import type { CameraPose } from "./camera-model.ts";

/** The plan of a simulated camera mall (camera-mall.ts builds one): its spaces with floor polygons, doorways with floor segments, cameras. */
export type MallSpaceKind = "entrance" | "corridor" | "shop";

export interface MallSpace extends SpaceDef {
  kind: MallSpaceKind;
  polygon: Point[];
}

/** A doorway with its floor segment a-b on the boundary between its two spaces. */
export interface MallDoorway extends DoorwayDef {
  a: Point;
  b: Point;
}

export interface MallCamera {
  id: string;
  name: string;
  pose: CameraPose;
  /** spaces the camera looks into (walls hide everything else); topology `sees` keeps those it really covers */
  sees: string[];
  /** virtual counting lines in its view */
  lines: CountingLine[];
}

/** A camera mall is a BuildingPlan (spaces, doorways, one DPU per doorway) plus geometry and cameras. */
export interface CameraMallPlan extends BuildingPlan {
  spaces: MallSpace[];
  doorways: MallDoorway[];
  cameras: MallCamera[];
  /** DPUs that could sit on the doorways ("dpu-{doorway}"); in the topology only when asked for */
  dpus: PlanDpu[];
}
