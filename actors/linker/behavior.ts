import type { Registry } from "prom-client";
import { ActorInbox } from "../../contracts/actor-inbox.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import type { FloorObs, TrackletsMsg } from "../../contracts/track-messages.ts";
import { withCamera, type SiteLookup } from "../../topology/site-geometry.ts";
import { addVotes } from "../appearance/appearance.ts";
import { defineBehavior, type KindContext } from "../runtime/define-behavior.ts";
import { paramsOf } from "../runtime/params.ts";
import type { ActorBehavior } from "../runtime/types.ts";
import { bestCandidate } from "./candidates.ts";
import { keepNewest } from "./floor-track.ts";
import { mergeHear, mergeOffer, mergeRelease } from "./event-time-merge.ts";
import { addToPerson, batchDue, endPerson, flushBatch, newPerson } from "./forwarding.ts";
import { linkerMetrics, type LinkerMetrics } from "./metrics.ts";
import { LinkerParams } from "./params.ts";
import { decodeLinker, encodeLinker, initialLinkerState, type LinkerState, type Person, type Tracklet } from "./state.ts";

export interface LinkerDeps {
  sites: SiteLookup;
  params?: Partial<LinkerParams>;
  registry?: Registry;
}

/** Stream time between two sweeps for silent persons and stale tracklets (ms). */
const SWEEP_MS = 1000;

/**
 * linker actor, id "{site}": links the site's tracklets (from the camera actors' TrackletsMsgs)
 * into persons and forwards their observations to the person actors. The cameras' messages are
 * first merged into event-time order (event-time-merge.ts).
 *
 * A new tracklet is pending until it has minObs observations or ends; it is then decided, the
 * tracklets decided by one message in order of their first observation (ties: tid): greedy, each
 * takes the cheapest candidate person (candidates.ts) below maxCost, else starts person
 * "p{n}". A tracklet that ends pending with fewer than minObs observations is noise. Once
 * linked, a tracklet's observations go to its person's batch (forwarding.ts). A person not
 * observed for personSilenceS of stream time (newest frameTs seen) is ended, with its remaining
 * tracklets. Everything depends on the messages alone, so a replay repeats the same sends.
 */
export function linkerBehavior(deps: LinkerDeps): ActorBehavior<LinkerState> {
  const p = paramsOf(LinkerParams, deps.params);
  const metrics = linkerMetrics(deps.registry);
  /** wall time (ctx.now) each linker last got a message: not state, only when to stop waiting at a stream's end */
  const lastMessageAt = new WeakMap<LinkerState, number>();
  const kind = ActorKinds.linker;

  const offer = (state: LinkerState, m: TrackletsMsg, ctx: KindContext<"straggler">) => {
    const env = { ctx, sites: deps.sites, p, metrics };
    if (m.frameTs <= state.merge.released) {
      // its camera was not waited for (far behind, or released after a quiet spell): applied now, out of order
      metrics.unordered.inc();
      if (!state.merge.cameraTs.has(m.camera)) {
        ctx.log.info({ actor: ctx.id, camera: m.camera, frameTs: m.frameTs, released: state.merge.released }, "camera first heard after the others were applied past its frame time");
      }
    }
    const expected = deps.sites.site(m.site)?.cameras.keys() ?? [];
    for (const ready of mergeOffer(state.merge, m, p.linkerWaitMs, expected)) applyTracklets(state, ready, env);
  };

  return defineBehavior({
    kind,
    inbound: ActorInbox[kind],
    target: (m) => m.site,
    skips: ["straggler"],
    registry: deps.registry,
    initialState: initialLinkerState,

    handle(state, m, ctx) {
      lastMessageAt.set(state, ctx.now());
      if (!mergeHear(state.merge, m)) {
        metrics.resent.inc();
        return;
      }
      // the site's cameras are waited for at the start: a camera this host does not know yet is looked up in the store first
      if (state.merge.startTs !== undefined) return offer(state, m, ctx);
      return withCamera(deps.sites, m.site, m.camera, () => offer(state, m, ctx), (err) => {
        ctx.log.warn({ actor: ctx.id, site: m.site, err }, "the topology could not be read from the store; linking with the one this host has");
      });
    },

    flush(state, ctx) {
      if (state.merge.inbox.length === 0) return;
      const quietFor = ctx.now() - (lastMessageAt.get(state) ?? ctx.now());
      if (quietFor <= p.quietMs) return;
      const env = { ctx, sites: deps.sites, p, metrics };
      const ready = mergeRelease(state.merge, Number.POSITIVE_INFINITY);
      // what a lagging camera sends later may then be older than what was applied: linking may differ
      ctx.log.info({ actor: ctx.id, released: ready.length, quietForMs: quietFor }, "linker heard nothing for a while: held tracklets released without waiting for every camera");
      for (const r of ready) applyTracklets(state, r, env);
    },

    wantsFlush: (state) => state.merge.inbox.length > 0,

    encode: encodeLinker,
    decode: (raw) => decodeLinker(raw),
  });
}

interface Env { ctx: KindContext<"straggler">; sites: SiteLookup; p: LinkerParams; metrics: LinkerMetrics }

function applyTracklets(state: LinkerState, m: TrackletsMsg, env: Env): void {
  const { p, ctx } = env;
  state.streamTs = Math.max(state.streamTs, m.frameTs);
  const touched = new Set<Person>();
  const mustFlush = new Set<Person>();
  const toDecide = new Map<string, { t: Tracklet; ended: boolean }>();

  for (const u of m.updates) {
    if (state.closed.has(u.tid)) {
      ctx.skip("straggler");
      continue;
    }
    let t = state.tracklets.get(u.tid);
    if (!t) {
      t = { tid: u.tid, camera: m.camera, person: undefined, obs: [], n: 0, votes: {}, emb: undefined, seen: state.streamTs };
      state.tracklets.set(u.tid, t);
    } else if (t.camera !== m.camera) {
      ctx.skip("misrouted", { tid: u.tid, camera: m.camera, owner: t.camera }, "tracklet update from another camera skipped");
      continue;
    }
    t.seen = state.streamTs;
    const fresh = newerThan(t.obs, u.obs);
    t.n += fresh.length;
    if (u.emb) t.emb = u.emb;
    const person = t.person !== undefined ? state.persons.get(t.person) : undefined;
    if (person) {
      t.obs.push(...fresh);
      keepNewest(t.obs, p.tailObs);
      if (u.emb) person.emb = u.emb;
      addToPerson(person, t.tid, t.camera, fresh, u.votes, p);
      touched.add(person);
      if (u.ended) {
        closeTracklet(state, t, person);
        mustFlush.add(person);
      }
    } else {
      t.person = undefined;
      t.obs.push(...fresh);
      keepNewest(t.obs, p.maxBacklog);
      addVotes(t.votes, u.votes);
      const ended = (toDecide.get(t.tid)?.ended ?? false) || u.ended === true;
      if (t.n >= p.minObs || ended) toDecide.set(t.tid, { t, ended });
    }
  }

  const order = [...toDecide.values()].sort((a, b) => firstTs(a.t) - firstTs(b.t) || (a.t.tid < b.t.tid ? -1 : a.t.tid > b.t.tid ? 1 : 0));
  for (const { t, ended } of order) {
    if (t.n < p.minObs) {
      state.tracklets.delete(t.tid);
      state.closed.set(t.tid, state.streamTs);
      env.metrics.tracklets.inc({ outcome: "noise" });
      continue;
    }
    const person = link(state, t, m.site, env);
    touched.add(person);
    if (ended) {
      closeTracklet(state, t, person);
      mustFlush.add(person);
    }
  }

  for (const person of touched) {
    if (!state.persons.has(person.id)) continue;
    if (mustFlush.has(person) || batchDue(person, p)) flushBatch(person, m.site, ctx);
  }
  if (state.streamTs >= state.nextSweep) {
    sweep(state, m.site, env);
    state.nextSweep = state.streamTs + SWEEP_MS;
  }
}

/** Links a decided tracklet to its best candidate or a new person, and forwards its backlog. */
function link(state: LinkerState, t: Tracklet, site: string, env: Env): Person {
  const { p } = env;
  const c = bestCandidate(state, t, site, env.sites, p);
  let person = c ? state.persons.get(c.person) : undefined;
  if (!person) {
    state.counter++;
    person = newPerson(`p${state.counter}`);
    state.persons.set(person.id, person);
  }
  env.metrics.tracklets.inc({ outcome: c ? c.kind : "new_person" });
  t.person = person.id;
  person.active.set(t.camera, t.tid);
  if (t.emb) person.emb = t.emb;
  addToPerson(person, t.tid, t.camera, t.obs, t.votes, p);
  t.votes = {};
  keepNewest(t.obs, p.tailObs);
  return person;
}

function closeTracklet(state: LinkerState, t: Tracklet, person: Person | undefined): void {
  state.tracklets.delete(t.tid);
  state.closed.set(t.tid, state.streamTs);
  if (person && person.active.get(t.camera) === t.tid) person.active.delete(t.camera);
}

/** Ends persons silent for personSilenceS, drops tracklets not updated for as long, forgets old closed tids. */
function sweep(state: LinkerState, site: string, env: Env): void {
  const horizon = state.streamTs - env.p.personSilenceS * 1000;
  const ended = new Set<string>();
  for (const person of state.persons.values()) {
    if (person.lastTs >= horizon) continue;
    endPerson(person, site, state.streamTs, env.ctx);
    ended.add(person.id);
    env.metrics.personsEnded.inc();
  }
  for (const id of ended) state.persons.delete(id);
  for (const t of [...state.tracklets.values()]) {
    const gone = t.person !== undefined && !state.persons.has(t.person);
    if (!gone && t.seen >= horizon) continue;
    if (t.person === undefined) env.metrics.tracklets.inc({ outcome: "stale" });
    closeTracklet(state, t, t.person !== undefined ? state.persons.get(t.person) : undefined);
  }
  for (const [tid, at] of state.closed) if (at < horizon) state.closed.delete(tid);
}

/** The observations of `incoming` newer than the last one kept (a tracklet's observations only move forward). */
function newerThan(kept: readonly FloorObs[], incoming: readonly FloorObs[]): FloorObs[] {
  let last = kept.length > 0 ? kept[kept.length - 1]![0] : -Infinity;
  const out: FloorObs[] = [];
  for (const o of incoming) if (o[0] > last) { out.push(o); last = o[0]; }
  return out;
}

const firstTs = (t: Tracklet) => t.obs[0]?.[0] ?? Number.MAX_SAFE_INTEGER;
