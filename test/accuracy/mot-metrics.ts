import { maxOverlapAssignment } from "./id-assignment.ts";
import type { HypothesisFrame, MotMetrics, SystemPerson, TrackingEvaluation, TruthFrame } from "./types.ts";

/**
 * Multi-object-tracking accuracy of the camera pipeline against the simulator's ground truth:
 * CLEAR MOT (MOTA with FN, FP, IDSW; no MOTP: a hypothesis is the detection box itself) and the
 * identity measures IDF1 / IDP / IDR (Ristani et al. 2016), per camera and across cameras.
 *
 * Matching. The tracker reports, per frame, the detection (oid) each confirmed track matched, so
 * a hypothesis (tid, oid) matches the ground-truth object that produced detection oid (the same
 * as IoU = 1 with the rendered box). A frame's ground-truth objects are the persons listed as
 * visible plus the persons of its detections. Per frame the matching is one-to-one: when several
 * hypotheses carry detections of one person (duplicate boxes), the one with the person's previous
 * tid is kept (else the smallest tid) and the others are false positives.
 *
 * Scopes. Per camera: GT ids are the persons that camera saw, hypothesis ids its tids. Across
 * cameras: all frames of all cameras in time order (frameTs, then camera), GT ids persons,
 * hypothesis ids the system person holding the tracklet (SystemPerson.tracklets; when a tid sits
 * in several persons, the one whose [first, last] holds the frame, else the nearest). A tracklet
 * in no person record is its own identity "unlinked:{camera}/{tid}". A person seen by two cameras
 * at once is two GT objects of one id.
 *
 * Everything is one pass over frames with maps (no scans across frames) plus the sparse
 * assignment: about a second for 500k detections.
 */

export interface EvaluateOptions {
  /** a GT id matched in at least this share of its GT objects is "mostly tracked" (default 0.8) */
  mostlyTracked?: number;
  /** ... in at most this share "mostly lost" (default 0.2) */
  mostlyLost?: number;
}

export interface TrackingInput {
  truth: Iterable<TruthFrame>;
  /** TrackUpdate events (or anything of that shape); repeats of a (tid, oid) in a frame count once */
  hypotheses: Iterable<HypothesisFrame>;
  /** person records of the system, for the cross-camera identities */
  persons: Iterable<SystemPerson>;
}

/** One frame after joining truth and hypotheses. */
interface Frame {
  camera: string;
  ts: number;
  /** position in its camera's time-ordered frames */
  index: number;
  /** distinct GT persons */
  gt: string[];
  /** hypotheses: tid and the true person of its detection (null: false positive or unknown oid) */
  tids: string[];
  truths: (string | null)[];
  /** hypotheses whose oid is not a detection of this truth frame */
  unknown: number;
  /** per-frame matches: GT person -> tid */
  matched: Map<string, string>;
}

interface TruthSlot {
  visible: Set<string>;
  dets: Map<string, string | null>;
}
interface HypSlot {
  keys: Set<string>;
  tids: string[];
  oids: string[];
}

/** Counts shared by the per-camera and the cross-camera scope (identical in both). */
interface FrameCounts {
  frames: number;
  gt: number;
  hyp: number;
  matches: number;
  fn: number;
  fp: number;
  fm: number;
  unknownOids: number;
}

const ratio = (a: number, b: number) => (b === 0 ? NaN : a / b);

function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

function bump<K>(map: Map<K, number>, key: K, by = 1) {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** tid -> person id for a frame, from the person records' tracklet lists. */
export function personResolver(persons: Iterable<SystemPerson>): (camera: string, tid: string, ts: number) => string {
  const byCamera = new Map<string, Map<string, [first: number, last: number, person: string][]>>();
  for (const p of persons) {
    for (const [tid, camera, first, last] of p.tracklets) {
      getOrSet(getOrSet(byCamera, camera, () => new Map()), tid, () => []).push([first, last, p.person]);
    }
  }
  for (const tids of byCamera.values()) {
    for (const entries of tids.values()) entries.sort((a, b) => a[0] - b[0] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  }
  return (camera, tid, ts) => {
    const entries = byCamera.get(camera)?.get(tid);
    if (!entries) return `unlinked:${camera}/${tid}`;
    if (entries.length === 1) return entries[0]![2];
    let best = entries[0]!;
    let bestGap = Infinity;
    for (const e of entries) {
      const gap = ts < e[0] ? e[0] - ts : ts > e[1] ? ts - e[1] : 0;
      if (gap < bestGap) {
        best = e;
        bestGap = gap;
      }
    }
    return best[2];
  };
}

/** Joins truth and hypotheses into per-camera, time-ordered frames. */
function joinFrames(truth: Iterable<TruthFrame>, hypotheses: Iterable<HypothesisFrame>): Map<string, Frame[]> {
  const truthIdx = new Map<string, Map<number, TruthSlot>>();
  for (const f of truth) {
    const slot = getOrSet(getOrSet(truthIdx, f.camera, () => new Map()), f.frameTs, () => ({ visible: new Set(), dets: new Map() }));
    for (const p of f.visible) slot.visible.add(p);
    for (const [oid, person] of f.detections) {
      const had = slot.dets.get(oid);
      if (had !== undefined && had !== person) {
        throw new Error(`truth frame ${f.camera}@${f.frameTs}: detection ${oid} given as ${had} and ${person}`);
      }
      slot.dets.set(oid, person);
    }
  }
  const hypIdx = new Map<string, Map<number, HypSlot>>();
  for (const f of hypotheses) {
    const slot = getOrSet(getOrSet(hypIdx, f.camera, () => new Map()), f.frameTs, () => ({ keys: new Set(), tids: [], oids: [] }));
    for (const t of f.tracks) {
      const tid = t[0], oid = t[1];
      const key = `${tid}\u0000${oid}`;
      if (slot.keys.has(key)) continue;
      slot.keys.add(key);
      slot.tids.push(tid);
      slot.oids.push(oid);
    }
  }
  const cameras = [...new Set([...truthIdx.keys(), ...hypIdx.keys()])].sort();
  const out = new Map<string, Frame[]>();
  for (const camera of cameras) {
    const tf = truthIdx.get(camera) ?? new Map<number, TruthSlot>();
    const hf = hypIdx.get(camera) ?? new Map<number, HypSlot>();
    const times = [...new Set([...tf.keys(), ...hf.keys()])].sort((a, b) => a - b);
    const frames: Frame[] = [];
    for (const ts of times) {
      const t = tf.get(ts);
      const h = hf.get(ts);
      const gt = new Set(t?.visible);
      if (t) for (const p of t.dets.values()) if (p !== null) gt.add(p);
      const oids = h?.oids ?? [];
      const truths: (string | null)[] = new Array(oids.length);
      let unknown = 0;
      for (let i = 0; i < oids.length; i++) {
        const p = t?.dets.get(oids[i]!);
        if (p === undefined) unknown++;
        truths[i] = p ?? null;
      }
      frames.push({ camera, ts, index: frames.length, gt: [...gt], tids: h?.tids ?? [], truths, unknown, matched: new Map() });
    }
    out.set(camera, frames);
  }
  return out;
}

interface TrackShare {
  objects: number;
  matched: number;
}

function trackedShares(shares: Iterable<TrackShare>, o: Required<EvaluateOptions>) {
  let mt = 0, pt = 0, ml = 0;
  for (const s of shares) {
    const r = s.matched / s.objects;
    if (r >= o.mostlyTracked) mt++;
    else if (r <= o.mostlyLost) ml++;
    else pt++;
  }
  return { mt, pt, ml };
}

function finish(
  c: FrameCounts,
  idsw: number,
  shares: Map<string, TrackShare>,
  hypIds: number,
  overlap: Map<string, Map<string, number>>,
  o: Required<EvaluateOptions>,
): MotMetrics {
  const assignment = maxOverlapAssignment(overlap);
  const idtp = assignment.reduce((s, a) => s + a[2], 0);
  return {
    ...c,
    idsw,
    gtIds: shares.size,
    hypIds,
    ...trackedShares(shares.values(), o),
    mota: c.gt === 0 ? NaN : 1 - (c.fn + c.fp + idsw) / c.gt,
    recall: ratio(c.matches, c.gt),
    precision: ratio(c.matches, c.hyp),
    idtp,
    idfp: c.hyp - idtp,
    idfn: c.gt - idtp,
    idf1: ratio(2 * idtp, c.gt + c.hyp),
    idp: ratio(idtp, c.hyp),
    idr: ratio(idtp, c.gt),
    assignment,
  };
}

const emptyCounts = (): FrameCounts => ({ frames: 0, gt: 0, hyp: 0, matches: 0, fn: 0, fp: 0, fm: 0, unknownOids: 0 });

/** Per-camera CLEAR MOT pass: fixes each frame's matching, counts, and the tid overlap table. */
function evaluateCamera(frames: Frame[], o: Required<EvaluateOptions>): MotMetrics {
  const c = emptyCounts();
  let idsw = 0;
  const lastMatch = new Map<string, string>();
  /** person -> matched before, and visible-but-unmatched since */
  const resume = new Map<string, { missed: boolean }>();
  const shares = new Map<string, TrackShare>();
  const overlap = new Map<string, Map<string, number>>();
  const tids = new Set<string>();
  for (const f of frames) {
    c.frames++;
    c.gt += f.gt.length;
    c.hyp += f.tids.length;
    c.unknownOids += f.unknown;
    const candidates = new Map<string, string[]>();
    for (let i = 0; i < f.tids.length; i++) {
      const tid = f.tids[i]!, p = f.truths[i]!;
      tids.add(tid);
      if (p === null) {
        c.fp++;
        continue;
      }
      getOrSet(candidates, p, () => []).push(tid);
      bump(getOrSet(overlap, p, () => new Map()), tid);
    }
    for (const p of f.gt) {
      const share = getOrSet(shares, p, () => ({ objects: 0, matched: 0 }));
      share.objects++;
      const cands = candidates.get(p);
      if (!cands) {
        c.fn++;
        const r = resume.get(p);
        if (r) r.missed = true;
        continue;
      }
      const prev = lastMatch.get(p);
      let pick: string;
      if (prev !== undefined && cands.includes(prev)) pick = prev;
      else pick = cands.reduce((a, b) => (b < a ? b : a));
      c.fp += cands.length - 1;
      c.matches++;
      share.matched++;
      if (prev !== undefined && prev !== pick) idsw++;
      const r = resume.get(p);
      if (r?.missed) c.fm++;
      if (r) r.missed = false;
      else resume.set(p, { missed: false });
      lastMatch.set(p, pick);
      f.matched.set(p, pick);
    }
  }
  return finish(c, idsw, shares, tids.size, overlap, o);
}

/** Sum of the per-frame counts of every camera (they are the same across cameras). */
function sumCounts(ms: Iterable<MotMetrics>): FrameCounts {
  const c = emptyCounts();
  for (const m of ms) {
    c.frames += m.frames;
    c.gt += m.gt;
    c.hyp += m.hyp;
    c.matches += m.matches;
    c.fn += m.fn;
    c.fp += m.fp;
    c.fm += m.fm;
    c.unknownOids += m.unknownOids;
  }
  return c;
}

/**
 * Evaluates the system's tracks against ground truth, per camera and across cameras.
 *
 * Cross-camera IDSW: a person matched to system person h counts a switch when h differs from the
 * id it had earlier in the same view visit (consecutive frames of that camera in which the person
 * is visible), or, at the first match of a view visit, from the id of the person's latest match in
 * any camera. Without simultaneous views this is CLEAR MOT's "previous match" rule; with two
 * cameras seeing the person at once, a wrong hand-over counts once, not at every frame.
 */
export function evaluateTracking(input: TrackingInput, options: EvaluateOptions = {}): TrackingEvaluation {
  const o: Required<EvaluateOptions> = { mostlyTracked: options.mostlyTracked ?? 0.8, mostlyLost: options.mostlyLost ?? 0.2 };
  const byCamera = joinFrames(input.truth, input.hypotheses);
  const perCamera = new Map<string, MotMetrics>();
  for (const [camera, frames] of byCamera) perCamera.set(camera, evaluateCamera(frames, o));

  const resolve = personResolver(input.persons);
  const all: Frame[] = [];
  for (const frames of byCamera.values()) for (const f of frames) all.push(f);
  all.sort((a, b) => a.ts - b.ts || (a.camera < b.camera ? -1 : a.camera > b.camera ? 1 : 0));

  let idsw = 0;
  const seen = new Set<string>();
  const shares = new Map<string, TrackShare>();
  const overlap = new Map<string, Map<string, number>>();
  const identities = new Map<string, Map<string | null, number>>();
  const globalLast = new Map<string, string>();
  const visits = new Map<string, Map<string, { lastIndex: number; id: string | null }>>();
  for (const f of all) {
    const hypIds = f.tids.map((tid) => resolve(f.camera, tid, f.ts));
    for (let i = 0; i < hypIds.length; i++) {
      const h = hypIds[i]!, p = f.truths[i]!;
      bump(getOrSet(identities, h, () => new Map()), p);
      if (p !== null) bump(getOrSet(overlap, p, () => new Map()), h);
    }
    const camVisits = getOrSet(visits, f.camera, () => new Map());
    for (const p of f.gt) {
      seen.add(p);
      const share = getOrSet(shares, p, () => ({ objects: 0, matched: 0 }));
      share.objects++;
      const v = getOrSet(camVisits, p, () => ({ lastIndex: -2, id: null }));
      if (v.lastIndex !== f.index - 1) v.id = null;
      v.lastIndex = f.index;
      const tid = f.matched.get(p);
      if (tid === undefined) continue;
      share.matched++;
      const h = resolve(f.camera, tid, f.ts);
      const prev = v.id ?? globalLast.get(p);
      if (prev !== undefined && prev !== h) idsw++;
      v.id = h;
      globalLast.set(p, h);
    }
  }
  const crossCamera = finish(sumCounts(perCamera.values()), idsw, shares, identities.size, overlap, o);
  return { perCamera, crossCamera, identities, seen };
}
