import { z } from "zod";
import { TrackletsMsg } from "../../contracts/track-messages.ts";

/**
 * The linker's event-time merge of its cameras' streams. Camera actors live in different
 * partitions and progress at their own pace (a partition replaying after a crash, or simply
 * behind), so their TrackletsMsgs reach the linker interleaved in arrival order, not in the order
 * things happened. Linking needs the latter: a hand-over from camera A to camera B can only be
 * recognised if A's end is seen before B's start.
 *
 * So messages are held and released in (frameTs, camera, seq) order up to the watermark: the
 * oldest "latest frameTs" among the live cameras. Every camera actor sends at least one message per
 * second of frame time (an empty one if nothing changed), so a camera nobody walks past does not
 * hold the others back. A camera whose latest frameTs is more than linkerWaitMs behind the newest
 * camera is not waited for (it is off, or far behind): its messages are applied as they arrive.
 * A merge that received nothing for a while (the end of a stream) is released whole by flush.
 * At the start, the site's cameras (those with a calibration in its topology) are waited for
 * until each has reported, or the newest is linkerWaitMs past the first message heard: camera
 * partitions start at their own pace too, and one that reports late would otherwise find the
 * others applied past its first frames. A camera added to the topology later, or one not in it,
 * is not waited for before it reports.
 */
export interface MergeState {
  /** held messages, sorted by (frameTs, camera, seq, part) */
  inbox: TrackletsMsg[];
  /**
   * camera -> (frameTs, seq, part) of the newest message heard from it. A camera actor sends in
   * that order, so one not after it was heard before and is dropped: a camera partition replayed
   * past JetStream's duplicate window, or the linker's partition read again after its replicas
   * disagreed (runtime/partition-feed.ts).
   */
  heard: Map<string, MessageKey>;
  /** camera -> newest frameTs it reported */
  cameraTs: Map<string, number>;
  /** everything at or before this frameTs was released */
  released: number;
  /** frameTs of the first message heard (the start the site's silent cameras are waited from) */
  startTs: number | undefined;
}

export const newMergeState = (): MergeState => ({
  inbox: [], heard: new Map(), cameraTs: new Map(), released: Number.NEGATIVE_INFINITY, startTs: undefined,
});

/** A camera's message in its sending order: frame time, frame seq, part of a split message. */
export type MessageKey = [frameTs: number, seq: number, part: number];
const keyOf = (m: TrackletsMsg): MessageKey => [m.frameTs, m.seq, m.part ?? 0];
const compareKeys = (a: MessageKey, b: MessageKey) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

const before = (a: TrackletsMsg, b: TrackletsMsg) =>
  a.frameTs - b.frameTs || (a.camera < b.camera ? -1 : a.camera > b.camera ? 1 : 0) || a.seq - b.seq || (a.part ?? 0) - (b.part ?? 0);

/** Notes m as heard; false (take nothing) when its camera already sent it or something after it. */
export function mergeHear(s: MergeState, m: TrackletsMsg): boolean {
  const key = keyOf(m);
  const prev = s.heard.get(m.camera);
  if (prev && compareKeys(key, prev) <= 0) return false;
  s.heard.set(m.camera, key);
  return true;
}

/**
 * Most messages held. Beyond it the oldest are released even though a camera is still behind
 * (ordering then degrades): the held messages are part of the linker's snapshot, which must stay
 * well below NATS' max payload.
 */
export const MAX_HELD = 5_000;

/**
 * Takes a message in; returns the messages now ready, in event-time order. `expected`: the site's
 * cameras, waited for at the start until they report.
 */
export function mergeOffer(s: MergeState, m: TrackletsMsg, linkerWaitMs: number, expected: Iterable<string> = []): TrackletsMsg[] {
  s.startTs ??= m.frameTs;
  s.cameraTs.set(m.camera, Math.max(s.cameraTs.get(m.camera) ?? Number.NEGATIVE_INFINITY, m.frameTs));
  if (m.frameTs <= s.released) return [m]; // behind the watermark: nothing to wait for
  let lo = 0, hi = s.inbox.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(s.inbox[mid]!, m) <= 0) lo = mid + 1; else hi = mid;
  }
  s.inbox.splice(lo, 0, m);
  const ready = mergeRelease(s, watermark(s, linkerWaitMs, expected));
  if (s.inbox.length > MAX_HELD) ready.push(...mergeRelease(s, s.inbox[s.inbox.length - MAX_HELD - 1]!.frameTs));
  return ready;
}

/**
 * The oldest newest-frameTs among cameras within linkerWaitMs of the newest camera; nothing
 * (-Infinity) while an expected camera has not reported and the start is within linkerWaitMs.
 */
export function watermark(s: MergeState, linkerWaitMs: number, expected: Iterable<string> = []): number {
  let newest = Number.NEGATIVE_INFINITY;
  for (const ts of s.cameraTs.values()) if (ts > newest) newest = ts;
  if (s.startTs !== undefined && s.startTs >= newest - linkerWaitMs) {
    for (const camera of expected) if (!s.cameraTs.has(camera)) return Number.NEGATIVE_INFINITY;
  }
  let w = Number.POSITIVE_INFINITY;
  for (const ts of s.cameraTs.values()) if (ts >= newest - linkerWaitMs && ts < w) w = ts;
  return w;
}

/** Releases the held messages at or before `upTo` (everything with Infinity). */
export function mergeRelease(s: MergeState, upTo: number): TrackletsMsg[] {
  let n = 0;
  while (n < s.inbox.length && s.inbox[n]!.frameTs <= upTo) n++;
  if (n === 0) return [];
  const out = s.inbox.splice(0, n);
  s.released = Math.max(s.released, out[out.length - 1]!.frameTs);
  return out;
}

export const MergeSnapshot = z.strictObject({
  inbox: z.array(TrackletsMsg),
  /** absent in snapshots written before it existed */
  heard: z.array(z.tuple([z.string(), z.tuple([z.number(), z.number().int(), z.number().int()])])).optional(),
  cameraTs: z.array(z.tuple([z.string(), z.number()])),
  released: z.number().nullable(),
  /** absent in snapshots written before it existed (such a merge waits for no camera it has not heard) */
  startTs: z.number().optional(),
});

export function encodeMerge(s: MergeState): z.infer<typeof MergeSnapshot> {
  return {
    inbox: s.inbox, heard: [...s.heard], cameraTs: [...s.cameraTs], released: Number.isFinite(s.released) ? s.released : null,
    ...(s.startTs !== undefined && Number.isFinite(s.startTs) ? { startTs: s.startTs } : {}),
  };
}

export function decodeMerge(raw: z.infer<typeof MergeSnapshot>): MergeState {
  // an old snapshot's merge has started long ago: no start to wait from
  const startTs = raw.startTs ?? (raw.cameraTs.length > 0 ? Number.NEGATIVE_INFINITY : undefined);
  return { inbox: raw.inbox, heard: new Map(raw.heard ?? []), cameraTs: new Map(raw.cameraTs), released: raw.released ?? Number.NEGATIVE_INFINITY, startTs };
}
