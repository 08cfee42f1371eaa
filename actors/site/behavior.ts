import type { IPoint } from "influx";
import type { Registry } from "prom-client";
import { z } from "zod";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import type { SiteOccupancyChanged } from "../../contracts/events.ts";
import { ActorKinds, siteOccupancyEventSubject } from "../../contracts/nats-layout.ts";
import { occupancyMsgIds } from "../../contracts/occupancy-messages.ts";
import { MEASUREMENT_SITE_OCCUPANCY, POINTS_PER_CHUNK } from "../../contracts/occupancy-store.ts";
import { defineBehavior } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import { msToNs } from "../runtime/point-time.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { lateHorizonMs, OccupancyParams, tooLateCounter } from "../timeline/late-horizon.ts";
import { SiteTimelines } from "./site-timelines.ts";

export interface SiteState {
  timelines: SiteTimelines;
  /** the total last published as SiteOccupancyChanged */
  emitted: number;
}

const SiteSnapshot = z.strictObject({ timelines: z.unknown(), emitted: z.number().int().nonnegative() });

export interface SiteDeps {
  params?: Partial<OccupancyParams>;
  /** prom-client registry for the counters (default: prom-client's global one) */
  registry?: Registry;
}

/**
 * site actor, id "{site}": keeps every space's timeline from the spaces' tails and, at every
 * flush, rewrites the site total (sum of the spaces' counts at each instant) from the earliest
 * change on, announcing a changed current total.
 */
export function siteBehavior(deps: SiteDeps = {}): ActorBehavior<SiteState> {
  const p = paramsOf(OccupancyParams, deps.params);
  const horizonMs = lateHorizonMs(p);
  const tooLate = tooLateCounter(deps.registry);
  const kind = ActorKinds.site;

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (m) => m.site,
    registry: deps.registry,
    initialState: (): SiteState => ({ timelines: new SiteTimelines(), emitted: 0 }),

    handle(state, m, ctx) {
      const unordered = m.points.findIndex((pt, i) => pt[0] < m.from || (i > 0 && pt[0] <= m.points[i - 1]![0]));
      if (unordered >= 0) return ctx.skip("invalid", { space: m.space, index: unordered }, "space counts not ascending from `from`; skipped");
      const { partial } = state.timelines.apply(m.space, m.from, m.before, m.points, m.version);
      if (partial) {
        tooLate.inc({ kind });
        ctx.log.warn({ actor: ctx.id, space: m.space, from: m.from, floor: state.timelines.floorTs },
          "space correction reaches before the site's compacted history; applied from the horizon on");
      }
    },

    flush(state, ctx) {
      const tail = state.timelines.takeDirty();
      if (tail) {
        const site = ctx.id;
        const tags = { site };
        for (let at = 0; at < tail.points.length; at += POINTS_PER_CHUNK) {
          ctx.write(tail.points.slice(at, at + POINTS_PER_CHUNK)
            .map(([t, count]): IPoint => ({ measurement: MEASUREMENT_SITE_OCCUPANCY, tags, fields: { count }, timestamp: msToNs(t) })));
        }
        const count = state.timelines.total();
        if (count !== state.emitted) {
          const ev: SiteOccupancyChanged = { type: "site_occupancy.changed", site, count, at: state.timelines.newest ?? tail.from };
          ctx.emit(siteOccupancyEventSubject(site), ev, occupancyMsgIds.siteOccupancyChanged(site, state.timelines.version));
          state.emitted = count;
        }
      }
      state.timelines.compact(horizonMs, true, p.maxTimeline);
    },

    encode: (state) => ({ timelines: state.timelines.encode(), emitted: state.emitted }),
    decode: (raw) => {
      const s = SiteSnapshot.parse(raw);
      return { timelines: SiteTimelines.decode(s.timelines), emitted: s.emitted };
    },
  });
}
