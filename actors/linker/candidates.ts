import type { FloorObs } from "../../contracts/track-messages.ts";
import type { SiteLookup } from "../../topology/site-geometry.ts";
import { appearanceCost } from "../appearance/appearance.ts";
import { dist, latestAtOrBefore, positionAt, velocity } from "./floor-track.ts";
import type { LinkerParams } from "./params.ts";
import type { LinkerState, Person, Tracklet } from "./state.ts";

/**
 * Which open person a newly decided tracklet continues, if any.
 *
 * Overlap: a person whose newest observations on ANOTHER camera (its tails: kept after that
 * camera's tracklet ended, so a tracklet decided after the walker left the other view still
 * finds them), interpolated to the times of the new tracklet's (|dt| <= overlapDtS), lie on
 * average within overlapDistM: two overlapping views see the same walker. Spatial cost = mean
 * distance / overlapDistM.
 *
 * Hand-over: a person last seen (by any camera that saw it within lastSeenS of its newest
 * observation) on this camera at most sameCameraGapS before the tracklet's first observation,
 * or on a neighbour camera (topology neighbours, either direction) with a gap inside
 * [min_s - slackS, max_s + slackS] (listed); or, at unlistedCost extra, any camera (unlisted:
 * not a neighbour, outside the window, or the same camera after sameCameraGapS) with a gap in
 * [-slackS, unlistedGapS]: real topologies miss routes and windows, so a good appearance and
 * walk may still link; and the straight-line speed needed from its last position
 * before that instant to the first observation, after forgiving posSlackM of noise, is at most
 * maxSpeedMps (this also rules out persons being seen elsewhere far away right now). Spatial
 * cost, with R = handoverRadiusM + spreadMps x gap, the lower of two hypotheses: walked on
 * straight = distance from the position its velocity predicts (extrapolated for at most
 * predictS) to the first observation / R; turned or slowed on the way = turnCost + how much
 * farther than its speed reaches in the gap the first observation is / R.
 *
 * Either way a person whose tracklet on this camera overlaps the new one in time is excluded
 * (one person, one tracklet per camera at a time), and the appearance term is added
 * (appearance.ts); an attribute contradiction rejects the candidate.
 */

export type LinkKind = "overlap" | "handover";

export interface Candidate { person: string; cost: number; kind: LinkKind }

export function bestCandidate(
  state: LinkerState, t: Tracklet, site: string, sites: SiteLookup, p: LinkerParams,
): Candidate | undefined {
  const first = t.obs[0];
  if (!first) return undefined;
  let best: Candidate | undefined;
  for (const person of state.persons.values()) {
    if (busyOnCamera(state, person, t.camera, first[0])) continue;
    // seen at the same time from two views is the stronger evidence: it wins over a hand-over
    const overlap = overlapCost(person, t, p);
    const handover = overlap === undefined ? handoverCost(person, t.camera, first, site, sites, p) : undefined;
    let spatial: number, kind: LinkKind;
    if (overlap !== undefined) { spatial = overlap; kind = "overlap"; }
    else if (handover !== undefined) { spatial = handover; kind = "handover"; }
    else continue;
    if (spatial > p.maxCost) continue;
    const look = appearanceCost(t, person, p);
    if (look === "contradiction") continue;
    const cost = spatial + look;
    if (cost <= p.maxCost && (!best || cost < best.cost)) best = { person: person.id, cost, kind };
  }
  return best;
}

/** The person already has a tracklet on this camera that is still being observed at or after `t0`. */
function busyOnCamera(state: LinkerState, person: Person, camera: string, t0: number): boolean {
  const tid = person.active.get(camera);
  if (tid === undefined) return false;
  const other = state.tracklets.get(tid);
  const lastObs = other?.obs[other.obs.length - 1];
  return lastObs !== undefined && lastObs[0] >= t0;
}

/**
 * Mean distance / overlapDistM against the best of the person's recent observations on other
 * cameras (its tails, kept after those tracklets end), or undefined. At least half the new
 * tracklet's observations (at most overlapMatches) must have a partner within overlapDtS.
 */
function overlapCost(person: Person, t: Tracklet, p: LinkerParams): number | undefined {
  let best: number | undefined;
  const tol = p.overlapDtS * 1000;
  const need = Math.max(1, Math.min(p.overlapMatches, Math.ceil(t.obs.length / 2)));
  for (const [camera, tail] of person.tails) {
    if (camera === t.camera || tail.length === 0) continue;
    let sum = 0, matched = 0;
    for (const [ts, x, y] of t.obs) {
      const at = positionAt(tail, ts, tol);
      if (!at) continue;
      sum += dist(x, y, at[0], at[1]);
      matched++;
    }
    if (matched < need) continue;
    const mean = sum / matched;
    if (mean <= p.overlapDistM && (best === undefined || mean < best)) best = mean;
  }
  return best === undefined ? undefined : best / p.overlapDistM;
}

/** The walking-time window between two cameras' views (either listed as the other's neighbour). */
export function neighbourWindow(sites: SiteLookup, site: string, a: string, b: string): { min_s: number; max_s: number } | undefined {
  return sites.camera(site, a)?.neighbours.get(b) ?? sites.camera(site, b)?.neighbours.get(a);
}

function handoverCost(person: Person, camera: string, first: FloorObs, site: string, sites: SiteLookup, p: LinkerParams): number | undefined {
  const t0 = first[0];
  // 0 inside a listed window (same camera or topology neighbour); unlistedCost for any other camera within unlistedGapS
  let windowCost: number | undefined;
  for (const [c, tail] of person.tails) {
    const last = tail[tail.length - 1];
    if (!last || last[0] < person.lastTs - p.lastSeenS * 1000) continue;
    const gapS = (t0 - last[0]) / 1000;
    const w = c === camera ? { min_s: 0, max_s: p.sameCameraGapS, slack: 0 } : { ...neighbourWindow(sites, site, camera, c), slack: p.slackS };
    if (w.min_s !== undefined && w.max_s !== undefined && gapS >= w.min_s - w.slack && gapS <= w.max_s + w.slack) { windowCost = 0; break; }
    if (gapS >= -p.slackS && gapS <= p.unlistedGapS) windowCost = p.unlistedCost;
  }
  if (windowCost === undefined) return undefined;
  const ref = latestAtOrBefore(person.recent, t0);
  if (!ref) return undefined;
  const dtS = Math.max(Math.abs(t0 - ref[0]), 250) / 1000;
  const d = dist(ref[1], ref[2], first[1], first[2]);
  if (Math.max(0, d - p.posSlackM) / dtS > p.maxSpeedMps) return undefined;
  const [vx, vy] = velocity(person.recent);
  const ahead = t0 > ref[0] ? Math.min((t0 - ref[0]) / 1000, p.predictS) : 0;
  const r = p.handoverRadiusM + p.spreadMps * dtS;
  // walked on straight: how far from where its velocity would have taken it
  const straight = dist(ref[1] + vx * ahead, ref[2] + vy * ahead, first[1], first[2]) / r;
  // turned (or slowed) on the way: anywhere within its speed's reach, at a fixed price
  const reach = Math.hypot(vx, vy) * ahead;
  const turned = p.turnCost + Math.max(0, d - reach) / r;
  return windowCost + Math.min(straight, turned);
}
