import type { IPoint } from "influx";
import { z } from "zod";
import { SpaceCountsMsg } from "../../contracts/actor-messages.ts";
import type { SiteOccupancyChanged } from "../../contracts/events.ts";
import { ActorKinds, siteOccupancyEventSubject } from "../../contracts/nats-layout.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { MEASUREMENT_SITE_OCCUPANCY, POINTS_PER_CHUNK } from "../../contracts/occupancy-store.ts";
import { DEFAULT_MAX_ENTRIES, type LateHorizonDeps } from "../timeline/late-horizon.ts";
import { occupancyMetrics, skipReporter } from "../occupancy/metrics.ts";
import { msToNs } from "../runtime/point-time.ts";
import { SiteTimelines } from "./site-timelines.ts";

export interface SiteState {
  timelines: SiteTimelines;
  /** the total last published as SiteOccupancyChanged */
  emitted: number;
}

const SiteSnapshot = z.strictObject({ timelines: z.unknown(), emitted: z.number().int().nonnegative() });

/**
 * site actor, id "{site}": keeps every space's timeline from the spaces' tails and, at every
 * flush, rewrites the site total (sum of the spaces' counts at each instant) from the earliest
 * change on, announcing a changed current total.
 */
export function siteBehavior(deps: LateHorizonDeps): ActorBehavior<SiteState> {
  const metrics = occupancyMetrics(deps.registry);
  const kind = ActorKinds.site;
  const skip = skipReporter(metrics, kind);

  return {
    kind,
    initialState: () => ({ timelines: new SiteTimelines(), emitted: 0 }),

    handle(state, body, ctx) {
      const parsed = SpaceCountsMsg.safeParse(body);
      if (!parsed.success) return skip(ctx, "invalid", { error: z.prettifyError(parsed.error) }, "invalid space-counts message skipped");
      const m = parsed.data;
      if (m.site !== ctx.id) return skip(ctx, "misrouted", { site: m.site, space: m.space }, "space counts for another site skipped");
      const unordered = m.points.findIndex((p, i) => p[0] < m.from || (i > 0 && p[0] <= m.points[i - 1]![0]));
      if (unordered >= 0) return skip(ctx, "invalid", { space: m.space, index: unordered }, "space counts not ascending from `from`; skipped");
      const { partial } = state.timelines.apply(m.space, m.from, m.before, m.points, m.version);
      if (partial) {
        metrics.tooLate.inc({ kind });
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
          ctx.emit(siteOccupancyEventSubject(site), ev, `so:${site}:${state.timelines.version}`);
          state.emitted = count;
        }
      }
      state.timelines.compact(deps.lateHorizonMs, true, deps.maxEntries ?? DEFAULT_MAX_ENTRIES);
    },

    encode: (state) => ({ timelines: state.timelines.encode(), emitted: state.emitted }),
    decode: (raw) => {
      const s = SiteSnapshot.parse(raw);
      return { timelines: SiteTimelines.decode(s.timelines), emitted: s.emitted };
    },
  };
}
