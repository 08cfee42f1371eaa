import type { Registry } from "prom-client";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import { occupancyMsgIds, type CrossingMsg, type MoveMsg } from "../../contracts/occupancy-messages.ts";
import { crossingMsgId } from "../../contracts/crossing.ts";
import { acceptWindowMs } from "../../contracts/time.ts";
import { OUTSIDE } from "../../contracts/ids.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import type { DoorwayEnds, TopologyLookup } from "../../topology/topology-lookup.ts";
import { defineBehavior, type KindContext } from "../runtime/define-behavior.ts";
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

const DOORWAY_SKIPS = ["future", "unknown_doorway", "duplicate"] as const;
type DoorwaySkip = (typeof DOORWAY_SKIPS)[number];

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
    skips: DOORWAY_SKIPS,
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
      if (ends) return count(state, c, ctx, ends);
      if (!deps.topology.refresh) return unknown(c, ctx);
      // the topology this host follows may lag behind the store (the broker checked the doorway
      // against its own registry): read it before giving up on the crossing
      return doorwayAfterRefresh(c, ctx).then((found) => (found ? count(state, c, ctx, found) : unknown(c, ctx)));
    },

    encode: (state) => state.seen.encode(),
    decode: (raw) => ({ seen: SeenKeys.decode(raw) }),
  });

  function unknown(c: CrossingMsg, ctx: KindContext<DoorwaySkip>): void {
    ctx.skip("unknown_doorway", { site: c.site, doorway: c.doorway, device: c.device }, "crossing on a doorway the topology does not know skipped");
  }

  /**
   * The doorway's ends once the site's topology was read from the store. While the store cannot
   * be read (a NATS leader being elected after a node was lost) it is asked again, for up to
   * REFRESH_FOR_MS: the broker took the crossing for a doorway it knew, and judging it on a
   * topology that lags behind would skip it for good.
   */
  async function doorwayAfterRefresh(c: CrossingMsg, ctx: KindContext<DoorwaySkip>): Promise<DoorwayEnds | undefined> {
    const until = performance.now() + REFRESH_FOR_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await deps.topology.refresh!(c.site);
        return deps.topology.doorway(c.site, c.doorway);
      } catch (err) {
        if (performance.now() >= until) {
          ctx.log.error({ actor: ctx.id, site: c.site, doorway: c.doorway, err }, "the topology could not be read from the store; judging the crossing on the topology this host has");
          return deps.topology.doorway(c.site, c.doorway);
        }
        if (attempt % 5 === 0) ctx.log.warn({ actor: ctx.id, site: c.site, err, attempt }, "the topology could not be read from the store; asking again");
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
      }
    }
  }

  function count(state: DoorwayState, c: CrossingMsg, ctx: KindContext<DoorwaySkip>, ends: DoorwayEnds): void {
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
        ctx.send(ActorKinds.space, `${c.site}.${space}`, move, occupancyMsgIds.move(c.site, space, key), { coalesce: true });
      }
    }
    ctx.write([{
      measurement: MEASUREMENT_CROSSINGS,
      tags: { site: c.site, doorway: c.doorway, device: c.device },
      fields: { delta: c.delta },
      timestamp: uniqueNs(c.ts, key),
    }]);
  }
}

/** how long the topology is asked for before a crossing on a doorway this host does not know is judged (ms) */
const REFRESH_FOR_MS = 60_000;
