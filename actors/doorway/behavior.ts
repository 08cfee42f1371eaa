import type { Registry } from "prom-client";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import { occupancyMsgIds, type MoveMsg } from "../../contracts/occupancy-messages.ts";
import { crossingMsgId } from "../../contracts/crossing.ts";
import { acceptWindowMs } from "../../contracts/time.ts";
import { OUTSIDE } from "../../contracts/ids.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import type { TopologyLookup } from "../../topology/topology-lookup.ts";
import { defineBehavior } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import { uniqueNs } from "../runtime/point-time.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { lateHorizonMs, tooLateCounter } from "../timeline/late-horizon.ts";
import { DoorwayParams } from "./params.ts";
import { SeenKeys } from "./seen-keys.ts";

export interface DoorwayDeps {
  topology: TopologyLookup;
  params?: Partial<DoorwayParams>;
  /** prom-client registry for the counters (default: prom-client's global one) */
  registry?: Registry;
}

export interface DoorwayState { seen: SeenKeys }

/**
 * doorway actor, id "{site}.{doorway}": de-duplicates crossings for all time (within the late
 * horizon; older ones are refused, as are crossings older than the raw retention allows against
 * the wall clock, so nothing is counted live whose point InfluxDB would drop), turns each into a
 * move out of `exiting_to` and into `entering_to` (outside has no actor), and records the raw
 * crossing.
 */
export function doorwayBehavior(deps: DoorwayDeps): ActorBehavior<DoorwayState> {
  const p = paramsOf(DoorwayParams, deps.params);
  const horizonMs = lateHorizonMs(p);
  // against the wall clock: older crossings' points would be dropped by InfluxDB (raw retention)
  const windowMs = acceptWindowMs(p.rawRetention, "actor");
  const tooLate = tooLateCounter(deps.registry);
  const kind = ActorKinds.doorway;

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (c) => `${c.site}.${c.doorway}`,
    skips: ["future", "unknown_doorway", "duplicate"],
    registry: deps.registry,
    initialState: () => ({ seen: new SeenKeys() }),

    handle(state, c, ctx) {
      if (p.maxFutureMs > 0 && c.ts > ctx.now() + p.maxFutureMs) {
        return ctx.skip("future", { device: c.device, eventId: c.eventId, ts: c.ts }, "crossing stamped in the future skipped");
      }
      if (windowMs !== undefined && c.ts < ctx.now() - windowMs) {
        // refused whole: not counted live, no point (InfluxDB would drop it as beyond the raw retention)
        tooLate.inc({ kind });
        ctx.log.warn({ actor: ctx.id, device: c.device, eventId: c.eventId, ts: c.ts, rawRetention: p.rawRetention, windowMs },
          "crossing older than the raw retention allows ignored");
        return;
      }
      const ends = deps.topology.doorway(c.site, c.doorway);
      if (!ends) return ctx.skip("unknown_doorway", { site: c.site, doorway: c.doorway, device: c.device }, "crossing on a doorway the topology does not know skipped");

      const key = crossingMsgId(c.device, c.eventId);
      const admission = state.seen.admit(key, c.ts, horizonMs, p.maxTimeline);
      if (admission === "too-late") {
        tooLate.inc({ kind });
        ctx.log.warn({ actor: ctx.id, key, ts: c.ts, newest: state.seen.newest, horizonMs },
          "crossing older than the late horizon ignored");
        return;
      }
      if (admission === "duplicate") return ctx.skip("duplicate", { key }, "duplicate crossing ignored", "debug");

      // a doorway from a space into itself moves nobody
      if (ends.entering_to !== ends.exiting_to) {
        const moves: Array<[string, 1 | -1]> = [[ends.entering_to, c.delta], [ends.exiting_to, c.delta === 1 ? -1 : 1]];
        for (const [space, delta] of moves) {
          if (space === OUTSIDE) continue;
          const move: MoveMsg = { type: "move", site: c.site, space, key, ts: c.ts, delta, receivedAt: c.receivedAt };
          ctx.send(ActorKinds.space, `${c.site}.${space}`, move, occupancyMsgIds.move(c.site, space, key));
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
  });
}
