import { OUTSIDE } from "../contracts/ids.ts";
import type { BuildingPlan } from "./building.ts";
import { FloorGraph, type Passage } from "./floor-graph.ts";
import { GroundTruth, type SimCrossing } from "./ground-truth.ts";
import { deriveSeed, exponential, mulberry32, pickOne, uniform, type Rng } from "./random.ts";

/** How walkers behave. */
export interface JourneyOptions {
  /** shortest stay in a space before the next doorway (default 5 s) */
  minDwellMs: number;
  /** mean stay in a space (default 60 s; exponential above minDwellMs, capped at 6x the mean) */
  meanDwellMs: number;
  /** mean number of moves between spaces before heading out (default 3) */
  meanVisits: number;
}

export const DEFAULT_JOURNEY: JourneyOptions = { minDwellMs: 5_000, meanDwellMs: 60_000, meanVisits: 3 };

/**
 * Hands out instants that no other crossing of the building has taken (ms resolution), so no
 * two crossings share a timestamp, neither at one doorway nor anywhere else in the site.
 */
export class DistinctInstants {
  private readonly taken = new Set<number>();

  claim(ts: number): number {
    let t = Math.round(ts);
    while (this.taken.has(t)) t++;
    this.taken.add(t);
    return t;
  }

  /** Forget instants before ts (for endless runs that only ever claim later ones). */
  forgetBefore(ts: number): void {
    for (const t of this.taken) if (t < ts) this.taken.delete(t);
  }
}

function dwell(rng: Rng, o: JourneyOptions): number {
  const extra = Math.max(0, o.meanDwellMs - o.minDwellMs);
  return o.minDwellMs + Math.min(exponential(rng, extra), 6 * o.meanDwellMs);
}

/**
 * One walker's whole visit: in through a street doorway at arrivalTs, a random walk of about
 * meanVisits moves between spaces (not straight back through the doorway just used when there is
 * another), then the shortest way out. Every move is one crossing with a distinct instant.
 */
export function walkerJourney(graph: FloorGraph, rng: Rng, walker: string, arrivalTs: number,
  opts: JourneyOptions, instants: DistinctInstants): SimCrossing[] {
  const moves: SimCrossing[] = [];
  const cross = (p: Passage, ts: number) => {
    moves.push({ device: p.device, doorway: p.doorway, ts, delta: p.delta, walker, from: p.from, to: p.to });
    return p;
  };
  let last = cross(pickOne(rng, graph.passagesFrom(OUTSIDE)), instants.claim(arrivalTs));
  let t = moves[0]!.ts;
  let visits = Math.floor(exponential(rng, Math.max(0, opts.meanVisits)));
  while (last.to !== OUTSIDE) {
    t += dwell(rng, opts);
    const here = last.to;
    let next: Passage | undefined;
    if (visits > 0) {
      const inner = graph.passagesFrom(here).filter((p) => p.to !== OUTSIDE);
      const onward = inner.filter((p) => p.doorway !== last.doorway);
      const choices = onward.length > 0 ? onward : inner;
      if (choices.length > 0) {
        next = pickOne(rng, choices);
        visits--;
      }
    }
    if (!next) {
      const closer = graph.passagesFrom(here).filter((p) => graph.distanceOut(p.to) < graph.distanceOut(here));
      next = pickOne(rng, closer);
    }
    t = instants.claim(t);
    last = cross(next, t);
  }
  return moves;
}

export interface WalkerSimOptions extends Partial<JourneyOptions> {
  plan: BuildingPlan;
  walkers: number;
  /** epoch ms of the run's start */
  startTs: number;
  durationMs: number;
  seed: number;
  /** walkers arrive uniformly in [startTs, startTs + arrivalWindowMs) (default durationMs) */
  arrivalWindowMs?: number;
}

export interface WalkerSim {
  /** every true crossing of the run in time order (ts distinct across the site) */
  crossings: SimCrossing[];
  truth: GroundTruth;
}

/**
 * Walkers arrive from outside at random times, walk the building and leave; moves at or after
 * the end of the run are not made (those walkers are still inside). Deterministic for a seed.
 */
export function simulateWalkers(opts: WalkerSimOptions): WalkerSim {
  const graph = new FloorGraph(opts.plan);
  const journey: JourneyOptions = {
    minDwellMs: opts.minDwellMs ?? DEFAULT_JOURNEY.minDwellMs,
    meanDwellMs: opts.meanDwellMs ?? DEFAULT_JOURNEY.meanDwellMs,
    meanVisits: opts.meanVisits ?? DEFAULT_JOURNEY.meanVisits,
  };
  if (!Number.isInteger(opts.walkers) || opts.walkers < 0) throw new RangeError("walkers must be a non-negative integer");
  if (!(opts.durationMs > 0)) throw new RangeError("durationMs must be positive");
  if (journey.minDwellMs < 0 || journey.meanDwellMs < journey.minDwellMs) throw new RangeError("need 0 <= minDwellMs <= meanDwellMs");
  const endTs = opts.startTs + opts.durationMs;
  const window = Math.min(opts.arrivalWindowMs ?? opts.durationMs, opts.durationMs);
  const arrivalsRng = mulberry32(deriveSeed(opts.seed, "arrivals"));
  const arrivals = Array.from({ length: opts.walkers }, () => Math.floor(uniform(arrivalsRng, opts.startTs, opts.startTs + window)))
    .sort((a, b) => a - b);
  const walkRng = mulberry32(deriveSeed(opts.seed, "walks"));
  const instants = new DistinctInstants();
  const crossings: SimCrossing[] = [];
  arrivals.forEach((arrival, i) => {
    for (const c of walkerJourney(graph, walkRng, `w${i}`, arrival, journey, instants)) {
      if (c.ts >= endTs) break;
      crossings.push(c);
    }
  });
  crossings.sort((a, b) => a.ts - b.ts);
  return { crossings, truth: new GroundTruth(opts.plan, crossings, opts.startTs, endTs) };
}
