import { ActorKinds } from "../../contracts/nats-layout.ts";
import { trackMsgIds, type AttrVotes, type FloorObs, type PersonEndMsg, type PersonObsMsg } from "../../contracts/track-messages.ts";
import type { KindContext } from "../runtime/define-behavior.ts";
import { addVotes } from "../appearance/appearance.ts";
import { insertByTs, keepNewest, keepWindow } from "./floor-track.ts";
import type { LinkerParams } from "./params.ts";
import type { Person } from "./state.ts";

/**
 * What the linker tells person actors. Observations of a person's tracklets are buffered and
 * sent as ONE PersonObsMsg per person once they span batchMs of frame time, when one of its
 * tracklets ends, or when the person ends; msgIds count the person's batches, so a replay of
 * the same TrackletsMsgs re-sends the same messages with the same ids.
 */

export function newPerson(id: string): Person {
  return {
    id, active: new Map(), recent: [], tails: new Map(), lastTs: 0,
    votes: {}, emb: undefined, batch: [], batchFrom: 0, batchTo: 0, batchN: 0,
  };
}

/** Folds a tracklet's new observations and votes into its person and buffers them for the person actor. */
export function addToPerson(person: Person, tid: string, camera: string, obs: readonly FloorObs[], votes: AttrVotes | undefined, p: LinkerParams): void {
  if (obs.length === 0 && !votes) return;
  let entry = person.batch.find((e) => e.tid === tid);
  if (!entry) {
    entry = { tid, camera, obs: [], votes: {} };
    person.batch.push(entry);
  }
  let empty = batchObsCount(person) === 0;
  let tail = person.tails.get(camera);
  if (!tail) person.tails.set(camera, tail = []);
  for (const o of obs) {
    entry.obs.push(o);
    if (empty) { person.batchFrom = o[0]; person.batchTo = o[0]; empty = false; }
    else { person.batchFrom = Math.min(person.batchFrom, o[0]); person.batchTo = Math.max(person.batchTo, o[0]); }
    insertByTs(person.recent, o);
    insertByTs(tail, o);
    if (o[0] > person.lastTs) person.lastTs = o[0];
  }
  keepWindow(person.recent, p.recentMs);
  keepNewest(tail, p.tailObs);
  // a camera that has not seen the person for tailMs keeps only its newest observation (for hand-overs)
  for (const other of person.tails.values()) {
    const last = other[other.length - 1];
    if (other.length > 1 && last && last[0] < person.lastTs - p.tailMs) other.splice(0, other.length - 1);
  }
  addVotes(entry.votes, votes);
  addVotes(person.votes, votes);
}

/** Buffered observations span at least batchMs. */
export const batchDue = (person: Person, p: LinkerParams) =>
  batchObsCount(person) > 0 && person.batchTo - person.batchFrom >= p.batchMs;

const batchObsCount = (person: Person) => person.batch.reduce((n, e) => n + e.obs.length, 0);

/** Sends the buffered observations (if any) as one PersonObsMsg and empties the buffer. */
export function flushBatch(person: Person, site: string, ctx: KindContext): void {
  const tracklets = person.batch.filter((e) => e.obs.length > 0 || Object.keys(e.votes).length > 0)
    .map((e) => ({ tid: e.tid, camera: e.camera, obs: e.obs, ...(Object.keys(e.votes).length > 0 ? { votes: e.votes } : {}) }));
  person.batch = [];
  person.batchFrom = 0;
  person.batchTo = 0;
  if (tracklets.length === 0) return;
  const msg: PersonObsMsg = { type: "person-obs", site, person: person.id, tracklets };
  // ordered: the person actor folds a tracklet's observations newer than those it has only
  ctx.send(ActorKinds.person, `${site}.${person.id}`, msg, trackMsgIds.personObs(site, person.id, person.batchN), { ordered: true });
  person.batchN++;
}

/** Flushes the person's buffer and tells its actor that the track is over. */
export function endPerson(person: Person, site: string, at: number, ctx: KindContext): void {
  flushBatch(person, site, ctx);
  const msg: PersonEndMsg = { type: "person-end", site, person: person.id, at };
  ctx.send(ActorKinds.person, `${site}.${person.id}`, msg, trackMsgIds.personEnd(site, person.id), { ordered: true });
}
