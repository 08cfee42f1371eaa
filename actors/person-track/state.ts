import { z } from "zod";
import { AttrVotes, FloorObs } from "../../contracts/track-messages.ts";
import { SecondBins } from "./bins.ts";

/** What a person-track actor keeps about one tracklet of its person. */
export interface TrackletSpan {
  camera: string;
  /** oldest and newest observation ts applied (newer ones only are applied later) */
  first: number;
  last: number;
}

/**
 * A person-track actor's state. `version` counts the state-changing messages handled (it is
 * the version of the ZonePersonMsgs sent and part of the event msgIds); `sentZones` remembers a
 * hash of what each zone was last told, so only changed zones hear again.
 */
export interface PersonTrackState {
  /** first observation ts this actor ever saw: the person point's time; never changes once set */
  founded: number | undefined;
  bins: SecondBins;
  tracklets: Map<string, TrackletSpan>;
  votes: AttrVotes;
  /** reprocessing jobs whose votes were applied, oldest first */
  jobs: string[];
  /** observations folded in */
  obs: number;
  /** observations dropped (beyond maxBins) */
  dropped: number;
  /** oldest and newest observation (ts order) */
  first: FloorObs | undefined;
  newest: FloorObs | undefined;
  ended: boolean;
  version: number;
  /** changed since the last flush */
  dirty: boolean;
  /** newest observation ts when the person point was last written (undefined: never) */
  writtenAt: number | undefined;
  /** the person point must be written at the next flush whatever writtenAt says (end, attributes) */
  writeDue: boolean;
  /** space -> hash of the last ZonePersonMsg content sent to its zone */
  sentZones: Map<string, string>;
}

export const initialPersonState = (): PersonTrackState => ({
  founded: undefined, bins: new SecondBins(), tracklets: new Map(), votes: {}, jobs: [], obs: 0, dropped: 0,
  first: undefined, newest: undefined, ended: false, version: 0, dirty: false, writtenAt: undefined, writeDue: false,
  sentZones: new Map(),
});

const PersonSnap = z.strictObject({
  v: z.literal(1),
  founded: z.number().int().optional(),
  bins: z.unknown(),
  tracklets: z.array(z.tuple([z.string(), z.string(), z.number().int(), z.number().int()])),
  votes: AttrVotes,
  jobs: z.array(z.string()),
  obs: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  first: FloorObs.optional(),
  newest: FloorObs.optional(),
  ended: z.boolean(),
  version: z.number().int().nonnegative(),
  dirty: z.boolean(),
  writtenAt: z.number().int().optional(),
  writeDue: z.boolean(),
  sentZones: z.array(z.tuple([z.string(), z.string()])),
});

export function encodePerson(s: PersonTrackState): unknown {
  return {
    v: 1,
    ...(s.founded !== undefined ? { founded: s.founded } : {}),
    bins: s.bins.encode(),
    tracklets: [...s.tracklets].map(([tid, t]) => [tid, t.camera, t.first, t.last]),
    votes: s.votes,
    jobs: s.jobs,
    obs: s.obs,
    dropped: s.dropped,
    ...(s.first ? { first: s.first } : {}),
    ...(s.newest ? { newest: s.newest } : {}),
    ended: s.ended,
    version: s.version,
    dirty: s.dirty,
    ...(s.writtenAt !== undefined ? { writtenAt: s.writtenAt } : {}),
    writeDue: s.writeDue,
    sentZones: [...s.sentZones],
  };
}

export function decodePerson(raw: unknown): PersonTrackState {
  const s = PersonSnap.parse(raw);
  return {
    founded: s.founded,
    bins: SecondBins.decode(s.bins),
    tracklets: new Map(s.tracklets.map(([tid, camera, first, last]) => [tid, { camera, first, last }])),
    votes: s.votes,
    jobs: s.jobs,
    obs: s.obs,
    dropped: s.dropped,
    first: s.first,
    newest: s.newest,
    ended: s.ended,
    version: s.version,
    dirty: s.dirty,
    writtenAt: s.writtenAt,
    writeDue: s.writeDue,
    sentZones: new Map(s.sentZones),
  };
}
