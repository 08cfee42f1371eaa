import { z } from "zod";
import { AttrVotes, FloorObs } from "../../contracts/track-messages.ts";
import { decodeMerge, encodeMerge, MergeSnapshot, newMergeState, type MergeState } from "./event-time-merge.ts";

/**
 * The linker's state: tracklets it has heard of (pending or linked), the open persons they are
 * linked to, the person counter and the stream clock. In memory it uses Maps (ids are external
 * strings); the snapshot is plain JSON arrays, validated on decode. Map order is insertion order
 * and survives the round trip, so decisions that iterate persons are the same after a replay.
 */

export interface Tracklet {
  tid: string;
  camera: string;
  /** undefined while pending */
  person: string | undefined;
  /** pending: the whole backlog; linked: the newest params.tailObs (for overlap checks) */
  obs: FloorObs[];
  /** observations seen so far */
  n: number;
  /** pending: votes so far (forwarded with the backlog when linked); linked: unused, empty */
  votes: AttrVotes;
  emb: number[] | undefined;
  /** stream time of its latest update (stale tracklets are swept) */
  seen: number;
}

/** Observations of one tracklet waiting to be sent to the person actor. */
export interface BatchEntry { tid: string; camera: string; obs: FloorObs[]; votes: AttrVotes }

export interface Person {
  id: string;
  /** camera -> the person's current tracklet on it */
  active: Map<string, string>;
  /** newest observations over all cameras, sorted by ts (params.recentMs of them) */
  recent: FloorObs[];
  /** camera -> the person's newest observations on it (params.tailObs, sorted by ts), kept after its tracklets there end */
  tails: Map<string, FloorObs[]>;
  /** ts of the newest observation */
  lastTs: number;
  votes: AttrVotes;
  /** the newest mean embedding any of its tracklets reported */
  emb: number[] | undefined;
  batch: BatchEntry[];
  /** time span of the buffered observations (meaningless while batch is empty) */
  batchFrom: number;
  batchTo: number;
  /** PersonObsMsgs sent so far (the next one's number) */
  batchN: number;
}

export interface LinkerState {
  tracklets: Map<string, Tracklet>;
  persons: Map<string, Person>;
  /** tid -> stream time it was closed (ended, dropped as noise, or its person ended): stragglers are ignored */
  closed: Map<string, number>;
  /** persons created so far ("p{n}") */
  counter: number;
  /** newest frameTs seen: the linker's clock */
  streamTs: number;
  /** next stream time at which silent persons and stale tracklets are swept */
  nextSweep: number;
  /** the cameras' messages, merged into event-time order (event-time-merge.ts) */
  merge: MergeState;
}

export const initialLinkerState = (): LinkerState => ({
  tracklets: new Map(), persons: new Map(), closed: new Map(), counter: 0, streamTs: 0, nextSweep: 0, merge: newMergeState(),
});

const Emb = z.array(z.number()).optional();
const TrackletSnap = z.tuple([z.string(), z.string(), z.string().nullable(), z.array(FloorObs), z.number().int(), AttrVotes, z.number(), Emb]);
const BatchSnap = z.strictObject({ tid: z.string(), camera: z.string(), obs: z.array(FloorObs), votes: AttrVotes });
const PersonSnap = z.strictObject({
  id: z.string(),
  active: z.array(z.tuple([z.string(), z.string()])),
  recent: z.array(FloorObs),
  tails: z.array(z.tuple([z.string(), z.array(FloorObs)])).optional(),
  /** version 1 kept only each camera's newest observation */
  lastByCamera: z.array(z.tuple([z.string(), FloorObs])).optional(),
  lastTs: z.number(),
  votes: AttrVotes,
  emb: Emb,
  batch: z.array(BatchSnap),
  batchFrom: z.number(),
  batchTo: z.number(),
  batchN: z.number().int().nonnegative(),
});
const LinkerSnap = z.strictObject({
  v: z.union([z.literal(1), z.literal(2)]),
  tracklets: z.array(TrackletSnap),
  persons: z.array(PersonSnap),
  closed: z.array(z.tuple([z.string(), z.number()])),
  counter: z.number().int().nonnegative(),
  streamTs: z.number(),
  nextSweep: z.number(),
  merge: MergeSnapshot.optional(),
});

export function encodeLinker(s: LinkerState): unknown {
  return {
    v: 2,
    tracklets: [...s.tracklets.values()].map((t) => [t.tid, t.camera, t.person ?? null, t.obs, t.n, t.votes, t.seen, ...(t.emb ? [t.emb] : [])]),
    persons: [...s.persons.values()].map((p) => ({
      id: p.id,
      active: [...p.active],
      recent: p.recent,
      tails: [...p.tails],
      lastTs: p.lastTs,
      votes: p.votes,
      ...(p.emb ? { emb: p.emb } : {}),
      batch: p.batch,
      batchFrom: p.batchFrom,
      batchTo: p.batchTo,
      batchN: p.batchN,
    })),
    closed: [...s.closed],
    counter: s.counter,
    streamTs: s.streamTs,
    nextSweep: s.nextSweep,
    merge: encodeMerge(s.merge),
  };
}

export function decodeLinker(raw: unknown): LinkerState {
  const s = LinkerSnap.parse(raw);
  return {
    tracklets: new Map(s.tracklets.map(([tid, camera, person, obs, n, votes, seen, emb]) =>
      [tid, { tid, camera, person: person ?? undefined, obs, n, votes, emb, seen }])),
    persons: new Map(s.persons.map(({ lastByCamera, tails, ...p }) => [p.id, {
      ...p, active: new Map(p.active), emb: p.emb,
      tails: new Map(tails ?? (lastByCamera ?? []).map(([camera, o]) => [camera, [o]])),
    }])),
    closed: new Map(s.closed),
    counter: s.counter,
    streamTs: s.streamTs,
    nextSweep: s.nextSweep,
    merge: s.merge ? decodeMerge(s.merge) : newMergeState(),
  };
}
