import type { IPoint } from "influx";
import type { Registry } from "prom-client";
import { z } from "zod";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { M } from "../../contracts/track-store.ts";
import { ZonePersonMsg } from "../../contracts/track-messages.ts";
import { skipper } from "../runtime/skip.ts";
import { POINTS_PER_CHUNK } from "../../contracts/occupancy-store.ts";
import { msToNs } from "../runtime/point-time.ts";
import type { ActorBehavior, ActorContext } from "../runtime/types.ts";
import type { SiteLookup } from "../../topology/site-geometry.ts";
import { zoneMetrics } from "./metrics.ts";
import { decodeZone, encodeZone, initialZoneState, prune, replacePerson, type ZonePerson, type ZoneState } from "./presence.ts";

export interface ZoneParams {
  /** persons whose newest instant is older than this before the zone's newest are forgotten, with the counts that old (s) */
  keepS: number;
  /** a visit longer than this is refused as invalid (s) */
  maxVisitS: number;
  /** stream time between two prunings (ms) */
  pruneEveryMs: number;
}

export const DEFAULT_ZONE_PARAMS: Readonly<ZoneParams> = Object.freeze({ keepS: 2 * 3600, maxVisitS: 24 * 3600, pruneEveryMs: 60_000 });

export interface ZoneDeps {
  /** not needed by the zone itself; accepted for symmetry with the other camera-pipeline actors */
  sites?: SiteLookup;
  params?: Partial<ZoneParams>;
  registry?: Registry;
}

/**
 * zone actor, id "{site}.{space}": camera-based occupancy, dwell and line counts of one space.
 * Keeps per person the ZonePersonMsg with the highest version (replacing is idempotent and
 * order-free; older versions are ignored). At each flush it writes, for the seconds whose count
 * may have changed, one `zone_occupancy` point per second (count = visits covering it), one
 * `zone_line` point per changed line second (in, out; zeros where crossings were retracted) and
 * one `zone_visit` point per new or changed closed visit (retracted ones rewritten with dwell 0).
 */
export function zoneBehavior(deps: ZoneDeps = {}): ActorBehavior<ZoneState> {
  const p: ZoneParams = { ...DEFAULT_ZONE_PARAMS, ...deps.params };
  const metrics = zoneMetrics(deps.registry);
  const skip = skipper(metrics.skipped);
  const floorOf = (newest: number) => newest - p.keepS * 1000;

  return {
    kind: ActorKinds.zone,
    initialState: initialZoneState,

    handle(state, body, ctx) {
      const parsed = ZonePersonMsg.safeParse(body);
      if (!parsed.success) return skip(ctx, "invalid", { error: z.prettifyError(parsed.error) }, "invalid zone-person message skipped");
      const m = parsed.data;
      if (`${m.site}.${m.space}` !== ctx.id) return skip(ctx, "misrouted", { site: m.site, space: m.space }, "zone-person for another zone skipped");
      const bad = m.visits.find(([a, b]) => !(b > a) || b - a > p.maxVisitS * 1000);
      if (bad) return skip(ctx, "invalid", { person: m.person, visit: bad }, "zone-person with an empty, reversed or too long visit skipped");
      const prev = state.persons.get(m.person);
      if (prev && prev.version >= m.version) {
        metrics.skipped.inc({ reason: "stale" });
        return;
      }
      let lastTs = prev?.lastTs ?? Number.MIN_SAFE_INTEGER;
      for (const [, leave] of m.visits) lastTs = Math.max(lastTs, leave);
      for (const [, ts] of m.crossings) lastTs = Math.max(lastTs, ts);
      if (lastTs === Number.MIN_SAFE_INTEGER) lastTs = state.newest;
      state.newest = Math.max(state.newest, lastTs);
      const next: ZonePerson = { version: m.version, visits: m.visits, crossings: m.crossings, ended: m.ended, lastTs };
      const late = replacePerson(state, m.person, next, floorOf(state.newest));
      if (late > 0) {
        metrics.tooLate.inc(late);
        ctx.log.warn({ actor: ctx.id, person: m.person, seconds: late }, "zone change older than the kept history not rewritten");
      }
    },

    flush(state, ctx) {
      writeChanges(state, ctx, floorOf(state.newest));
      if (state.newest >= state.nextPrune) {
        prune(state, floorOf(state.newest));
        state.nextPrune = state.newest + p.pruneEveryMs;
      }
    },

    encode: encodeZone,
    decode: (raw) => decodeZone(raw, floorOf),
  };
}

function writeChanges(state: ZoneState, ctx: ActorContext, floor: number): void {
  const [site, space] = splitId(ctx.id);
  if (state.dirtySeconds.size > 0) {
    const secs = [...state.dirtySeconds].filter((t) => t >= floor).sort((a, b) => a - b);
    state.dirtySeconds.clear();
    const tags = { site, space };
    writeChunked(ctx, secs.map((t): IPoint => ({ measurement: M.zoneOccupancy, tags, fields: { count: state.counts.get(t) ?? 0 }, timestamp: msToNs(t) })));
  }
  if (state.dirtyLines.size > 0) {
    const points: IPoint[] = [];
    for (const line of [...state.dirtyLines.keys()].sort()) {
      const perLine = state.lines.get(line);
      const tags = { site, space, line };
      for (const t of [...state.dirtyLines.get(line)!].filter((t) => t >= floor).sort((a, b) => a - b)) {
        const [inn, out] = perLine?.get(t) ?? [0, 0];
        points.push({ measurement: M.zoneLine, tags, fields: { in: inn, out }, timestamp: msToNs(t) });
      }
    }
    state.dirtyLines.clear();
    writeChunked(ctx, points);
  }
  if (state.visitPoints.size > 0) {
    const tags = { site, space };
    const points = [...state.visitPoints].sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([ns, f]): IPoint => ({ measurement: M.zoneVisit, tags, fields: { ...f }, timestamp: ns }));
    state.visitPoints.clear();
    writeChunked(ctx, points);
  }
}

function writeChunked(ctx: ActorContext, points: IPoint[]): void {
  for (let at = 0; at < points.length; at += POINTS_PER_CHUNK) ctx.write(points.slice(at, at + POINTS_PER_CHUNK));
}

/** "{site}.{space}" -> [site, space] (both single tokens without dots). */
function splitId(id: string): [string, string] {
  const dot = id.indexOf(".");
  return [id.slice(0, dot), id.slice(dot + 1)];
}
