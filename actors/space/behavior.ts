import type { IPoint } from "influx";
import type { Registry } from "prom-client";
import { z } from "zod";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import { occupancyMsgIds, type SpaceCountsMsg } from "../../contracts/occupancy-messages.ts";
import type { CapacityAlert, OccupancyChanged } from "../../contracts/events.ts";
import { ActorKinds, capacityAlertSubject, occupancyEventSubject } from "../../contracts/nats-layout.ts";
import type { TopologyLookup } from "../../topology/topology-lookup.ts";
import { MEASUREMENT_OCCUPANCY, POINTS_PER_CHUNK } from "../../contracts/occupancy-store.ts";
import { splitId } from "../runtime/actor-id.ts";
import { defineBehavior } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import { msToNs } from "../runtime/point-time.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { lateHorizonMs, OccupancyParams, tooLateCounter } from "../timeline/late-horizon.ts";
import { Timeline } from "../timeline/timeline.ts";

export interface SpaceState {
  timeline: Timeline;
  /** the count last published as OccupancyChanged */
  emitted: number;
  /** a capacity alert is open (the count went above capacity and has not come back) */
  overCapacity: boolean;
}

const SpaceSnapshot = z.strictObject({
  timeline: z.unknown(),
  emitted: z.number().int().nonnegative(),
  overCapacity: z.boolean().default(false),
});

export interface SpaceDeps {
  /** capacities for alerts; without it no capacity alerts are raised */
  topology?: Pick<TopologyLookup, "capacity">;
  params?: Partial<OccupancyParams>;
  /** prom-client registry for the counters (default: prom-client's global one) */
  registry?: Registry;
}

/**
 * space actor, id "{site}.{space}": the space's exact count timeline (see Timeline). At every
 * flush it rewrites the InfluxDB points from the earliest change on, passes the same tail to the
 * site actor, announces a changed current count, and raises or clears a capacity alert when the
 * current count crosses the space's capacity.
 */
export function spaceBehavior(deps: SpaceDeps): ActorBehavior<SpaceState> {
  const p = paramsOf(OccupancyParams, deps.params);
  const horizonMs = lateHorizonMs(p);
  const tooLate = tooLateCounter(deps.registry);
  const kind = ActorKinds.space;

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (m) => `${m.site}.${m.space}`,
    skips: ["duplicate"],
    registry: deps.registry,
    initialState: (): SpaceState => ({ timeline: new Timeline(), emitted: 0, overCapacity: false }),

    handle(state, m, ctx) {
      const outcome = state.timeline.insert(m.ts, m.key, m.delta);
      if (outcome === "too-late") {
        tooLate.inc({ kind });
        ctx.log.warn({ actor: ctx.id, key: m.key, ts: m.ts, floor: state.timeline.floorTs, horizonMs },
          "move older than the space's compacted history ignored");
      } else if (outcome === "duplicate") {
        ctx.skip("duplicate", { key: m.key }, "duplicate move ignored", "debug");
      }
    },

    flush(state, ctx) {
      const tail = state.timeline.takeDirty();
      if (tail) {
        const [site, space] = splitId(ctx.id);
        const tags = { site, space };
        const version = state.timeline.version;
        for (let at = 0, chunk = 0; at < tail.points.length; at += POINTS_PER_CHUNK, chunk++) {
          const points = tail.points.slice(at, at + POINTS_PER_CHUNK);
          // chunks tile [from, last point] without gaps: the next one starts just after the previous one's last point
          const prev = tail.points[at - 1];
          const from = prev ? prev[0] + 1 : tail.from;
          const before = prev ? prev[1] : tail.before;
          ctx.write(points.map(([t, count]): IPoint => ({ measurement: MEASUREMENT_OCCUPANCY, tags, fields: { count }, timestamp: msToNs(t) })));
          const msg: SpaceCountsMsg = { type: "space-counts", site, space, from, before, version, points };
          ctx.send(ActorKinds.site, site, msg, occupancyMsgIds.spaceCounts(site, space, tail.from, version, chunk));
        }
        const count = state.timeline.current();
        if (count !== state.emitted) {
          const at = state.timeline.newest ?? tail.from;
          const ev: OccupancyChanged = { type: "occupancy.changed", site, space, count, at };
          ctx.emit(occupancyEventSubject(site, space), ev, occupancyMsgIds.occupancyChanged(site, space, version));
          state.emitted = count;
        }
        const capacity = deps.topology?.capacity(site, space);
        const over = capacity !== undefined && count > capacity;
        if (capacity !== undefined && over !== state.overCapacity) {
          const alert: CapacityAlert = {
            type: "alert.capacity", site, space, state: over ? "over" : "cleared", count, capacity, at: state.timeline.newest ?? tail.from,
          };
          ctx.emit(capacityAlertSubject(site, space), alert, occupancyMsgIds.capacityAlert(site, space, version));
          ctx.log.info({ actor: ctx.id, count, capacity, state: alert.state }, "capacity alert");
          state.overCapacity = over;
        }
      }
      state.timeline.compact(horizonMs, true, p.maxTimeline);
    },

    encode: (state) => ({ timeline: state.timeline.encode(), emitted: state.emitted, overCapacity: state.overCapacity }),
    decode: (raw) => {
      const s = SpaceSnapshot.parse(raw);
      return { timeline: Timeline.decode(s.timeline), emitted: s.emitted, overCapacity: s.overCapacity };
    },
  });
}
