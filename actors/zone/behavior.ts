import type { IPoint } from "influx";
import { register as defaultRegistry, type Registry } from "prom-client";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { POINTS_PER_CHUNK } from "../../contracts/occupancy-store.ts";
import { M } from "../../contracts/track-store.ts";
import type { SiteLookup } from "../../topology/site-geometry.ts";
import { counter } from "../../infra/metrics.ts";
import { splitId } from "../runtime/actor-id.ts";
import { defineBehavior, type KindContext } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import { msToNs } from "../runtime/point-time.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { ZoneParams } from "./params.ts";
import { decodeZone, encodeZone, initialZoneState, prune, replacePerson, type ZonePerson, type ZoneState } from "./presence.ts";

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
  const p = paramsOf(ZoneParams, deps.params);
  const tooLate = counter(deps.registry ?? defaultRegistry, "footfall_zone_too_late_total",
    "Changed seconds older than the zone's kept history (keepS), not rewritten");
  const floorOf = (newest: number) => newest - p.keepS * 1000;
  const kind = ActorKinds.zone;

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (m) => `${m.site}.${m.space}`,
    skips: ["stale"],
    registry: deps.registry,
    initialState: initialZoneState,

    handle(state, m, ctx) {
      const bad = m.visits.find(([a, b]) => !(b > a) || b - a > p.maxVisitS * 1000);
      if (bad) return ctx.skip("invalid", { person: m.person, visit: bad }, "zone-person with an empty, reversed or too long visit skipped");
      const prev = state.persons.get(m.person);
      if (prev && prev.version >= m.version) return ctx.skip("stale");
      let lastTs = prev?.lastTs ?? Number.MIN_SAFE_INTEGER;
      for (const [, leave] of m.visits) lastTs = Math.max(lastTs, leave);
      for (const [, ts] of m.crossings) lastTs = Math.max(lastTs, ts);
      if (lastTs === Number.MIN_SAFE_INTEGER) lastTs = state.newest;
      state.newest = Math.max(state.newest, lastTs);
      const next: ZonePerson = { version: m.version, visits: m.visits, crossings: m.crossings, ended: m.ended, lastTs };
      const late = replacePerson(state, m.person, next, floorOf(state.newest));
      if (late > 0) {
        tooLate.inc(late);
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
  });
}

function writeChanges(state: ZoneState, ctx: KindContext, floor: number): void {
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

function writeChunked(ctx: KindContext, points: IPoint[]): void {
  for (let at = 0; at < points.length; at += POINTS_PER_CHUNK) ctx.write(points.slice(at, at + POINTS_PER_CHUNK));
}
