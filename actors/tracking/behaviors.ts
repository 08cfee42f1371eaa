import type { Registry } from "prom-client";
import type { BehaviorRegistry } from "../runtime/types.ts";
import type { SiteLookup } from "../../topology/site-geometry.ts";
import { cameraBehavior } from "../camera/behavior.ts";
import { linkerBehavior } from "../linker/behavior.ts";
import { personBehavior } from "../person-track/behavior.ts";
import { zoneBehavior } from "../zone/behavior.ts";
import type { CameraParams } from "../camera/params.ts";
import type { LinkerParams } from "../linker/params.ts";

export interface TrackingDeps {
  sites: SiteLookup;
  /** FOOTFALL_CAMERA_REORDER_MS */
  reorderMs?: number;
  /** FOOTFALL_PERSON_SILENCE_S */
  silenceS?: number;
  /** FOOTFALL_LINKER_WAIT_MS */
  linkerWaitMs?: number;
  registry?: Registry;
  /** tuning beyond the configuration (tests, benchmarks) */
  camera?: Partial<CameraParams>;
  linker?: Partial<LinkerParams>;
}

/** The camera pipeline's actor kinds (camera, linker, person, zone), for an actor host. */
export function trackingBehaviors(deps: TrackingDeps): BehaviorRegistry {
  const common = { sites: deps.sites, ...(deps.registry ? { registry: deps.registry } : {}) };
  const behaviors = [
    cameraBehavior({ ...common, params: { ...deps.camera, ...(deps.reorderMs === undefined ? {} : { reorderMs: deps.reorderMs }) } }),
    linkerBehavior({
      ...common,
      params: {
        ...deps.linker,
        ...(deps.silenceS === undefined ? {} : { silenceS: deps.silenceS }),
        ...(deps.linkerWaitMs === undefined ? {} : { liveLagMs: deps.linkerWaitMs }),
      },
    }),
    personBehavior(common),
    zoneBehavior(common),
  ];
  return new Map(behaviors.map((b) => [b.kind, b]));
}
