import { z } from "zod";
import { CrossingMsg, type MoveMsg } from "../../contracts/actor-messages.ts";
import { crossingMsgId } from "../../contracts/crossing.ts";
import { OUTSIDE } from "../../contracts/ids.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import { DEFAULT_MAX_ENTRIES, type LateHorizonDeps } from "../timeline/late-horizon.ts";
import { occupancyMetrics, skipReporter } from "../occupancy/metrics.ts";
import { uniqueNs } from "../runtime/point-time.ts";
import { SeenKeys } from "./seen-keys.ts";
import type { TopologyLookup } from "../../topology/topology-lookup.ts";

export interface DoorwayDeps extends LateHorizonDeps {
  topology: TopologyLookup;
  /** refuse crossings stamped more than this ahead of the wall clock (a device with a wrong clock would
   *  otherwise push the horizon forward and make every correct crossing "too late"). Off when undefined. */
  maxFutureMs?: number;
}

export interface DoorwayState { seen: SeenKeys }

/** The space actor's message id for one crossing's move into or out of `space`. */
export const moveMsgId = (site: string, space: string, key: string) => `mv:${site}:${space}:${key}`;

/**
 * doorway actor, id "{site}.{doorway}": de-duplicates crossings for all time (within the late
 * horizon; older ones are refused), turns each into a move out of `exiting_to` and into
 * `entering_to` (outside has no actor), and records the raw crossing.
 */
export function doorwayBehavior(deps: DoorwayDeps): ActorBehavior<DoorwayState> {
  const metrics = occupancyMetrics(deps.registry);
  const kind = ActorKinds.doorway;
  const skip = skipReporter(metrics, kind);

  return {
    kind,
    initialState: () => ({ seen: new SeenKeys() }),

    handle(state, body, ctx) {
      const parsed = CrossingMsg.safeParse(body);
      if (!parsed.success) return skip(ctx, "invalid", { error: z.prettifyError(parsed.error) }, "invalid crossing message skipped");
      const c = parsed.data;
      if (`${c.site}.${c.doorway}` !== ctx.id) return skip(ctx, "misrouted", { site: c.site, doorway: c.doorway }, "crossing for another doorway skipped");
      if (deps.maxFutureMs !== undefined && c.ts > ctx.now() + deps.maxFutureMs) {
        return skip(ctx, "future", { device: c.device, eventId: c.eventId, ts: c.ts }, "crossing stamped in the future skipped");
      }
      const ends = deps.topology.doorway(c.site, c.doorway);
      if (!ends) return skip(ctx, "unknown_doorway", { site: c.site, doorway: c.doorway, device: c.device }, "crossing on a doorway the topology does not know skipped");

      const key = crossingMsgId(c.device, c.eventId);
      const admission = state.seen.admit(key, c.ts, deps.lateHorizonMs, deps.maxEntries ?? DEFAULT_MAX_ENTRIES);
      if (admission === "too-late") {
        metrics.tooLate.inc({ kind });
        ctx.log.warn({ actor: ctx.id, key, ts: c.ts, newest: state.seen.newest, horizonMs: deps.lateHorizonMs },
          "crossing older than the late horizon ignored");
        return;
      }
      if (admission === "duplicate") {
        metrics.skipped.inc({ kind, reason: "duplicate" });
        ctx.log.debug({ actor: ctx.id, key }, "duplicate crossing ignored");
        return;
      }

      // a doorway from a space into itself moves nobody
      if (ends.entering_to !== ends.exiting_to) {
        const moves: Array<[string, 1 | -1]> = [[ends.entering_to, c.delta], [ends.exiting_to, c.delta === 1 ? -1 : 1]];
        for (const [space, delta] of moves) {
          if (space === OUTSIDE) continue;
          const move: MoveMsg = { type: "move", site: c.site, space, key, ts: c.ts, delta, receivedAt: c.receivedAt };
          ctx.send(ActorKinds.space, `${c.site}.${space}`, move, moveMsgId(c.site, space, key));
        }
      }
      ctx.write([{
        measurement: MEASUREMENT_CROSSINGS,
        tags: { site: c.site, doorway: c.doorway, device: c.device },
        fields: { delta: c.delta },
        timestamp: uniqueNs(c.ts, key),
      }]);
    },

    encode: (state) => state.seen.encode(),
    decode: (raw) => ({ seen: SeenKeys.decode(raw) }),
  };
}
