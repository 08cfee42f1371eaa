import type {
  DistanceMetrics, PathQueryMetrics, SystemPerson, TrackingEvaluation, TruthPerson, ZoneOccupancyMetrics, ZoneSample,
} from "./types.ts";

/**
 * Accuracy of what the queries answer, against ground truth: attribute path queries ("upper=blue"
 * precision / recall), distance walked, and camera-based zone occupancy. The link between a
 * system person track and a true person comes from evaluateTracking (mot-metrics.ts): its
 * `identities` table counts, per system person, the true person behind each detection it matched.
 */

const ratio = (a: number, b: number) => (b === 0 ? NaN : a / b);

/**
 * The true person who produced most of the detections a system person matched (its majority
 * identity). False-positive detections count as one more candidate, "nobody": if they are the
 * majority the track has no identity (null). Ties go to a real person, then the smallest id.
 * A person with no matched detection at all has no identity.
 */
export function majorityIdentity(identities: TrackingEvaluation["identities"], person: string): string | null {
  const counts = identities.get(person);
  if (!counts) return null;
  let best: string | null = null;
  let bestN = 0;
  let nobody = 0;
  for (const [p, n] of counts) {
    if (p === null) {
      nobody = n;
      continue;
    }
    if (n > bestN || (n === bestN && best !== null && p < best)) {
      best = p;
      bestN = n;
    }
  }
  return best !== null && bestN >= nobody ? best : null;
}

const hasAll = (attrs: Readonly<Record<string, string>> | undefined, filter: Readonly<Record<string, string>>) =>
  attrs !== undefined && Object.entries(filter).every(([k, v]) => attrs[k] === v);

export interface PathQueryInput {
  /** system person ids the query returned (all pages; repeats count once) */
  returned: Iterable<string>;
  /** the attribute filter of the query, e.g. {upper: "blue"} */
  filter: Readonly<Record<string, string>>;
  evaluation: Pick<TrackingEvaluation, "identities" | "seen">;
  truth: Iterable<TruthPerson>;
}

/**
 * precision = returned tracks whose majority identity has every attribute of the filter / returned
 * tracks (a track without identity counts as wrong); recall = seen true persons having the
 * attributes that are the majority identity of at least one returned track / seen true persons
 * having the attributes. NaN on 0 / 0.
 */
export function pathQueryMetrics(input: PathQueryInput): PathQueryMetrics {
  const attrs = new Map<string, Readonly<Record<string, string>>>();
  for (const t of input.truth) attrs.set(t.person, t.attrs);
  const returned = new Set(input.returned);
  let truePositives = 0;
  const foundPersons = new Set<string>();
  for (const id of returned) {
    const who = majorityIdentity(input.evaluation.identities, id);
    if (who !== null && hasAll(attrs.get(who), input.filter)) {
      truePositives++;
      foundPersons.add(who);
    }
  }
  let relevant = 0;
  for (const p of input.evaluation.seen) if (hasAll(attrs.get(p), input.filter)) relevant++;
  return {
    filter: input.filter,
    returned: returned.size,
    truePositives,
    precision: ratio(truePositives, returned.size),
    relevant,
    found: foundPersons.size,
    recall: ratio(foundPersons.size, relevant),
  };
}

export interface DistanceInput {
  /** the system person tracks to average (e.g. all persons of the evaluated period) */
  system: Iterable<SystemPerson>;
  truth: Iterable<TruthPerson>;
  evaluation: Pick<TrackingEvaluation, "identities" | "seen" | "crossCamera">;
  /** average only system tracks that have a majority identity (default false: all of them) */
  onlyIdentified?: boolean;
}

/**
 * Mean distance walked by the system's person tracks against the mean true distance of the seen
 * persons: relativeError = (systemMean - trueMean) / trueMean. Per person, over the pairs of the
 * cross-camera IDF1 assignment (one system person per true person): mean |sys - true| in metres
 * and mean |sys - true| / true (pairs with true > 0).
 */
export function distanceMetrics(input: DistanceInput): DistanceMetrics {
  const sys = new Map<string, number>();
  let sysSum = 0, sysN = 0;
  for (const s of input.system) {
    sys.set(s.person, s.distance_m);
    if (input.onlyIdentified && majorityIdentity(input.evaluation.identities, s.person) === null) continue;
    sysSum += s.distance_m;
    sysN++;
  }
  const truth = new Map<string, number>();
  let trueSum = 0, trueN = 0;
  for (const t of input.truth) {
    truth.set(t.person, t.distance_m);
    if (!input.evaluation.seen.has(t.person)) continue;
    trueSum += t.distance_m;
    trueN++;
  }
  let pairs = 0, absSum = 0, relSum = 0, relN = 0;
  for (const [truePerson, hyp] of input.evaluation.crossCamera.assignment) {
    const d = sys.get(hyp), t = truth.get(truePerson);
    if (d === undefined || t === undefined) continue;
    pairs++;
    absSum += Math.abs(d - t);
    if (t > 0) {
      relSum += Math.abs(d - t) / t;
      relN++;
    }
  }
  const systemMean = ratio(sysSum, sysN), trueMean = ratio(trueSum, trueN);
  return {
    systemTracks: sysN,
    systemMean,
    truePersons: trueN,
    trueMean,
    relativeError: ratio(systemMean - trueMean, trueMean),
    pairs,
    pairMeanAbsError: ratio(absSum, pairs),
    pairMeanRelError: ratio(relSum, relN),
  };
}

/**
 * Camera-based zone occupancy against the true count at sampled instants: mean and largest
 * |system - truth|, sum |system - truth| / sum truth (relativeAbsError: errors of opposite sign do
 * not cancel) and (sum system - sum truth) / sum truth (relativeTotalError: they do), overall and
 * per zone.
 */
export function zoneOccupancyError(samples: Iterable<ZoneSample>): ZoneOccupancyMetrics {
  let n = 0, abs = 0, max = 0, sysSum = 0, trueSum = 0;
  const zones = new Map<string, { n: number; abs: number; truth: number }>();
  for (const s of samples) {
    const e = Math.abs(s.system - s.truth);
    n++;
    abs += e;
    if (e > max) max = e;
    sysSum += s.system;
    trueSum += s.truth;
    let z = zones.get(s.zone);
    if (!z) zones.set(s.zone, (z = { n: 0, abs: 0, truth: 0 }));
    z.n++;
    z.abs += e;
    z.truth += s.truth;
  }
  const perZone = new Map<string, { samples: number; meanAbsError: number; relativeAbsError: number }>();
  for (const [zone, z] of [...zones].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    perZone.set(zone, { samples: z.n, meanAbsError: ratio(z.abs, z.n), relativeAbsError: ratio(z.abs, z.truth) });
  }
  return {
    samples: n,
    meanAbsError: ratio(abs, n),
    maxAbsError: max,
    relativeAbsError: ratio(abs, trueSum),
    relativeTotalError: ratio(sysSum - trueSum, trueSum),
    perZone,
  };
}
