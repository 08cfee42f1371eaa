import type { BehaviorRegistry } from "../runtime/types.ts";
import { doorwayBehavior, type DoorwayDeps } from "../doorway/behavior.ts";
import { siteBehavior } from "../site/behavior.ts";
import { spaceBehavior } from "../space/behavior.ts";

/**
 * The occupancy slice's actor kinds (doorway, space, site), for an actor host.
 * deps: { topology, lateHorizonMs } and optionally a prom-client registry and maxFutureMs (see DoorwayDeps).
 */
export function occupancyBehaviors(deps: DoorwayDeps): BehaviorRegistry {
  const behaviors = [doorwayBehavior(deps), spaceBehavior(deps), siteBehavior(deps)];
  return new Map(behaviors.map((b) => [b.kind, b]));
}
