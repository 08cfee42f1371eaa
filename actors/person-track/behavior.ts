import type { IPoint } from "influx";
import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import type { PersonUpdate } from "../../contracts/events.ts";
import { ActorKinds, fnv1a, personEventSubject } from "../../contracts/nats-layout.ts";
import { M, personPointNs, type PersonFields } from "../../contracts/track-store.ts";
import { trackMsgIds, type PersonObsMsg, type ZonePersonMsg } from "../../contracts/track-messages.ts";
import type { SiteLookup } from "../../topology/site-geometry.ts";
import { counter } from "../../infra/metrics.ts";
import { addVotes } from "../appearance/appearance.ts";
import { splitId } from "../runtime/actor-id.ts";
import { defineBehavior, type KindContext } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { bestAttributes, type Attributes } from "./attributes.ts";
import { PersonParams } from "./params.ts";
import { anchors, cm, crossings, thin, type PathPoint } from "./path.ts";
import { decodePerson, encodePerson, initialPersonState, type PersonTrackState } from "./state.ts";
import { bySpace, leaveInstant, visits, type Visit } from "./visits.ts";

export interface PersonDeps {
  sites: SiteLookup;
  params?: Partial<PersonParams>;
  registry?: Registry;
}

/**
 * person-track actor, id "{site}.{person}": folds the linker's observations of one person
 * (every camera) into per-second bins, its attribute votes, and its end. Idempotent: per
 * tracklet only observations newer than the newest applied are folded (a replayed batch changes
 * nothing), reprocessing jobs are applied once each. At a flush after a change it recomputes the
 * path (anchors, distance), visits and line crossings from the bins and writes ONE `person`
 * point, emits a PersonUpdate, and sends each zone whose visits or crossings changed (also those
 * no longer visited: empty lists retract) a ZonePersonMsg carrying the state's version.
 */
export function personBehavior(deps: PersonDeps): ActorBehavior<PersonTrackState> {
  const p = paramsOf(PersonParams, deps.params);
  const dropped = counter(deps.registry ?? defaultRegistry, "footfall_person_obs_dropped_total",
    "Observations dropped because the person track is at its bin cap");

  /** not state (wall clock): when the person last got a message, and whether its point waits behind the throttle */
  const lastMessageAt = new WeakMap<PersonTrackState, number>();
  const stale = new WeakSet<PersonTrackState>();
  const kind = ActorKinds.person;

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (m) => `${m.site}.${m.person}`,
    skips: ["job_applied"],
    registry: deps.registry,
    initialState: initialPersonState,

    handle(state, m, ctx) {
      lastMessageAt.set(state, ctx.now());
      let changed = false;
      if (m.type === "person-obs") changed = foldObs(state, m, p, dropped);
      else if (m.type === "person-end") {
        changed = !state.ended;
        state.ended = true;
        state.writeDue ||= changed;
      } else if (state.jobs.includes(m.job)) {
        ctx.skip("job_applied");
      } else {
        state.jobs.push(m.job);
        if (state.jobs.length > p.maxJobs) state.jobs.splice(0, state.jobs.length - p.maxJobs);
        addVotes(state.votes, m.votes);
        changed = true;
        state.writeDue = true;
      }
      if (changed) {
        state.version++;
        state.dirty = true;
      }
    },

    flush(state, ctx) {
      if (!state.dirty) {
        // the point skipped by the throttle is written once the person has been quiet for a while
        const since = lastMessageAt.get(state);
        if (!stale.has(state) || (since !== undefined && ctx.now() - since < QUIET_MS)) return;
        state.writeDue = true;
      }
      state.dirty = false;
      if (publish(state, ctx, deps.sites, p)) stale.delete(state);
      else stale.add(state);
    },

    wantsFlush: (state) => stale.has(state),

    encode: encodePerson,
    decode: (raw) => decodePerson(raw),
  });
}

/** A person point held back by the throttle is written after this much wall time without a message (ms). */
const QUIET_MS = 2000;

/** Folds a batch; true when it added at least one observation. */
function foldObs(state: PersonTrackState, m: PersonObsMsg, p: PersonParams, dropped: Counter): boolean {
  let changed = false;
  for (const e of m.tracklets) {
    const span = state.tracklets.get(e.tid);
    let last = span?.last ?? -Infinity;
    let first = span?.first ?? Infinity;
    let added = 0;
    for (const o of e.obs) {
      const [ts, x, y] = o;
      if (ts <= last) continue;
      last = ts;
      if (!state.bins.add(ts, x, y, p.maxBins)) {
        state.dropped++;
        dropped.inc();
        continue;
      }
      added++;
      if (ts < first) first = ts;
      state.founded ??= ts;
      if (!state.first || ts < state.first[0]) state.first = o;
      if (!state.newest || ts >= state.newest[0]) state.newest = o;
    }
    if (last === -Infinity) continue;
    if (added > 0) {
      state.obs += added;
      addVotes(state.votes, e.votes);
      changed = true;
    }
    state.tracklets.set(e.tid, { camera: span?.camera ?? e.camera, first: Number.isFinite(first) ? first : last, last });
  }
  return changed;
}

/**
 * Recomputes everything from the state and publishes it: person point (throttled), PersonUpdate,
 * changed zones. Returns false when the throttle held the point back (it is then stale).
 */
function publish(state: PersonTrackState, ctx: KindContext, sites: SiteLookup, p: PersonParams): boolean {
  if (state.founded === undefined || !state.first || !state.newest) return true;
  const [site, person] = splitId(ctx.id);
  const geo = sites.site(site);
  const spaceAt = (pt: [number, number]) => geo?.spaceAt(pt);
  const bins = state.bins;
  const spaces = bins.spaces(geo, spaceAt);
  const vs = visits(bins.t, spaces, (i) => leaveInstant(bins.time(i - 1), [bins.x(i - 1), bins.y(i - 1)], bins.time(i), [bins.x(i), bins.y(i)], spaceAt));
  const path = anchors(bins, p.anchorM, { first: state.first[0], last: state.newest[0] });
  // the last bin is a path point before it is an anchor; it counts for crossings once the track is over
  const counted = path.tail && !state.ended ? path.points.slice(0, -1) : path.points;
  const cross = crossings(counted, geo?.lines ?? []);
  const attrs = bestAttributes(state.votes);
  const distance = cm(path.distance);

  const due = state.writeDue || state.ended || state.writtenAt === undefined || state.newest[0] - state.writtenAt >= p.pointEveryMs;
  if (due) {
    ctx.write([personPoint(state, site, person, { vs, points: path.points, attrs, distance }, p)]);
    state.writtenAt = state.newest[0];
    state.writeDue = false;
  }
  const written = due;

  const [ts, x, y] = state.newest;
  const update: PersonUpdate = {
    type: "person.update", site, person, at: [ts, x, y], space: spaces[spaces.length - 1] ?? null,
    distance_m: distance, attrs, ended: state.ended,
  };
  ctx.emit(personEventSubject(site), update, `pu:${site}:${person}:${state.version}`);

  const visitsBy = bySpace(vs);
  const targets = [...new Set([...visitsBy.keys(), ...cross.keys(), ...state.sentZones.keys()])].sort();
  for (const space of targets) {
    const v = visitsBy.get(space) ?? [];
    const c = cross.get(space) ?? [];
    const hash = contentHash(v, c, state.ended && (v.length > 0 || c.length > 0));
    if (state.sentZones.get(space) === hash) continue;
    const msg: ZonePersonMsg = { type: "zone-person", site, space, person, version: state.version, visits: v, crossings: c, ended: state.ended };
    ctx.send(ActorKinds.zone, `${site}.${space}`, msg, trackMsgIds.zonePerson(site, space, person, state.version));
    state.sentZones.set(space, hash);
  }
  return written;
}

/** The `person` point: the whole track as of now, at the person's founding instant (ns). */
function personPoint(
  state: PersonTrackState, site: string, person: string,
  track: { vs: Visit[]; points: PathPoint[]; attrs: Attributes; distance: number }, p: PersonParams,
): IPoint {
  const tracklets = [...state.tracklets].sort((a, b) => a[1].first - b[1].first || (a[0] < b[0] ? -1 : 1));
  const { attrs } = track;
  const fields: PersonFields = {
    person,
    start: state.first![0],
    end: state.newest![0],
    distance_m: track.distance,
    upper: attrs.upper?.value ?? "",
    upper_conf: attrs.upper?.conf ?? 0,
    lower: attrs.lower?.value ?? "",
    lower_conf: attrs.lower?.conf ?? 0,
    attrs: JSON.stringify(attrs),
    path: JSON.stringify(thin(track.points, p.maxPathPoints).map(([t, x, y]) => [t, cm(x), cm(y)])),
    visits: JSON.stringify(track.vs.slice(-p.maxListItems)),
    tracklets: JSON.stringify(tracklets.slice(-p.maxListItems).map(([tid, t]) => [tid, t.camera, t.first, t.last])),
    cameras: bars(new Set(tracklets.map(([, t]) => t.camera))),
    spaces: bars(new Set(track.vs.map((v) => v[0]))),
    obs: state.obs,
    ended: state.ended,
  };
  return { measurement: M.person, tags: { site }, fields: { ...fields }, timestamp: personPointNs(state.founded!, person) };
}

function contentHash(v: unknown, c: unknown, ended: boolean): string {
  const s = JSON.stringify([v, c, ended]);
  return `${fnv1a(s).toString(36)}.${s.length.toString(36)}`;
}

/** "|a|b|" of the sorted values ("" when none): filterable with a regex on "|a|". */
const bars = (values: Set<string>) => (values.size === 0 ? "" : `|${[...values].sort().join("|")}|`);
