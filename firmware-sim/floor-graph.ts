import { OUTSIDE } from "../contracts/ids.ts";
import type { BuildingPlan } from "./building.ts";

/** One way through a doorway: from one of its spaces into the other, seen by its DPU as delta. */
export interface Passage {
  doorway: string;
  device: string;
  from: string;
  to: string;
  /** +1 from exiting_to into entering_to, -1 the reverse */
  delta: 1 | -1;
}

export class PlanError extends Error {
  constructor(readonly reasons: string[]) {
    super(`building plan is not walkable: ${reasons.join("; ")}`);
    this.name = "PlanError";
  }
}

/**
 * The walkable graph of a plan: spaces (plus the implied outside) as nodes, every doorway with a
 * DPU as two passages. Doorways without a DPU are not walked (nobody could observe the crossing).
 * Building it checks the plan and throws PlanError naming every problem.
 */
export class FloorGraph {
  private readonly passages = new Map<string, Passage[]>();
  private readonly distance = new Map<string, number>();

  constructor(readonly plan: BuildingPlan) {
    const reasons: string[] = [];
    const spaces = new Set<string>();
    for (const s of plan.spaces) {
      if (s.id === OUTSIDE) reasons.push(`"${OUTSIDE}" is implied and must not be listed as a space`);
      else if (spaces.has(s.id)) reasons.push(`space "${s.id}" is listed twice`);
      spaces.add(s.id);
    }
    const isSpace = (id: string) => id === OUTSIDE || spaces.has(id);
    const doorways = new Map(plan.doorways.map((d) => [d.id, d]));
    if (doorways.size !== plan.doorways.length) reasons.push("a doorway id is listed twice");
    for (const d of plan.doorways) {
      if (!isSpace(d.entering_to)) reasons.push(`doorway "${d.id}": unknown space "${d.entering_to}"`);
      if (!isSpace(d.exiting_to)) reasons.push(`doorway "${d.id}": unknown space "${d.exiting_to}"`);
      if (d.entering_to === d.exiting_to) reasons.push(`doorway "${d.id}" leads into its own space`);
    }
    const dpuOf = new Map<string, string>();
    const dpuIds = new Set<string>();
    for (const dpu of plan.dpus) {
      if (dpuIds.has(dpu.id)) reasons.push(`dpu "${dpu.id}" is listed twice`);
      dpuIds.add(dpu.id);
      if (!doorways.has(dpu.doorway)) reasons.push(`dpu "${dpu.id}": unknown doorway "${dpu.doorway}"`);
      else if (dpuOf.has(dpu.doorway)) reasons.push(`doorway "${dpu.doorway}" has two dpus`);
      else dpuOf.set(dpu.doorway, dpu.id);
    }
    if (reasons.length > 0) throw new PlanError(reasons);

    for (const id of [OUTSIDE, ...spaces]) this.passages.set(id, []);
    for (const d of plan.doorways) {
      const device = dpuOf.get(d.id);
      if (device === undefined) continue;
      this.passages.get(d.exiting_to)!.push({ doorway: d.id, device, from: d.exiting_to, to: d.entering_to, delta: 1 });
      this.passages.get(d.entering_to)!.push({ doorway: d.id, device, from: d.entering_to, to: d.exiting_to, delta: -1 });
    }

    // breadth-first from outside: how many doorways each space is from the street
    this.distance.set(OUTSIDE, 0);
    const queue = [OUTSIDE];
    for (let i = 0; i < queue.length; i++) {
      const here = queue[i]!;
      for (const p of this.passages.get(here)!) {
        if (this.distance.has(p.to)) continue;
        this.distance.set(p.to, this.distance.get(here)! + 1);
        queue.push(p.to);
      }
    }
    const unreachable = [...spaces].filter((s) => !this.distance.has(s));
    if (unreachable.length > 0) throw new PlanError(unreachable.map((s) => `space "${s}" cannot be reached from ${OUTSIDE} through doorways with a dpu`));
  }

  /** Every passage leading out of a space (outside included). */
  passagesFrom(space: string): readonly Passage[] {
    const p = this.passages.get(space);
    if (!p) throw new RangeError(`unknown space "${space}"`);
    return p;
  }

  /** Fewest doorways between a space and outside. */
  distanceOut(space: string): number {
    const d = this.distance.get(space);
    if (d === undefined) throw new RangeError(`unknown space "${space}"`);
    return d;
  }
}
