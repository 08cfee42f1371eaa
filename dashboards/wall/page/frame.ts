import type { WallPlan } from "../../../contracts/wall.ts";
import type { WallModel } from "./model.ts";
import type { PathItem } from "./rest.ts";
import { positionAt, trailBefore, type TrailPoint } from "./trails.ts";

/**
 * What the stage shows at one instant, live or from history (pure): every space's counts, the
 * site total and the people on the floor with their short trails.
 */
export interface SpaceFigures {
  /** the count shown: DPU if the space has DPUs, else the camera count */
  shown: number | null;
  dpu: number | null;
  camera: number | null;
}

export interface PersonDot {
  id: string;
  x: number;
  y: number;
  upper: string | undefined;
  trail: Array<[number, number]>;
  ended: boolean;
}

export interface Frame {
  mode: "live" | "history";
  /** the instant shown (epoch ms) */
  at: number;
  spaces: Map<string, SpaceFigures>;
  total: number | null;
  people: PersonDot[];
}

export const TRAIL_MS = 8_000;

export function liveFrame(model: WallModel, now: number): Frame {
  const spaces = new Map<string, SpaceFigures>();
  for (const [id, s] of model.spaces) spaces.set(id, { shown: model.countOf(id), dpu: s.dpu, camera: s.camera });
  const people: PersonDot[] = [];
  for (const [id, p] of model.people) {
    people.push({
      id,
      x: p.update.at[1],
      y: p.update.at[2],
      upper: p.update.attrs.upper?.value,
      trail: model.trails.get(id).map((q) => [q[1], q[2]]),
      ended: p.endedAt !== null,
    });
  }
  return { mode: "live", at: now, spaces, total: model.siteTotal(), people };
}

/** Counts at a past instant, as the REST API answered them. */
export interface HistoryCounts {
  at: number;
  dpu: Map<string, number>;
  camera: Map<string, number>;
  total: number | null;
}

/** The people at `at` from their recorded paths: interpolated position, the last TRAIL_MS of path behind it. */
export function peopleAt(items: readonly PathItem[], at: number): PersonDot[] {
  const out: PersonDot[] = [];
  for (const it of items) {
    const path = it.path as TrailPoint[];
    const p = positionAt(path, at);
    if (!p) continue;
    out.push({
      id: it.person, x: p[0], y: p[1], upper: it.attributes.upper?.value,
      trail: trailBefore(path, at, TRAIL_MS).map((q) => [q[1], q[2]]),
      ended: false,
    });
  }
  return out;
}

export function historyFrame(plan: WallPlan, counts: HistoryCounts, people: PersonDot[]): Frame {
  const spaces = new Map<string, SpaceFigures>();
  let cameraSum: number | null = null;
  for (const def of plan.spaces) {
    const dpu = counts.dpu.get(def.id) ?? null;
    const camera = counts.camera.get(def.id) ?? null;
    if (camera !== null) cameraSum = (cameraSum ?? 0) + camera;
    spaces.set(def.id, { shown: def.dpu ? dpu : camera ?? dpu, dpu, camera });
  }
  return { mode: "history", at: counts.at, spaces, total: plan.dpus > 0 ? counts.total : cameraSum, people };
}
