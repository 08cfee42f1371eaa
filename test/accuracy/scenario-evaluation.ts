import type { TrackUpdate } from "../../contracts/events.ts";
import type { CameraTruth } from "../../firmware-sim/camera-truth.ts";
import { evaluateTracking } from "./mot-metrics.ts";
import { distanceMetrics, pathQueryMetrics, zoneOccupancyError } from "./path-metrics.ts";
import { formatAccuracyReport } from "./report.ts";
import type { DistanceMetrics, PathQueryMetrics, SystemPerson, TruthPerson, ZoneOccupancyMetrics, TrackingEvaluation } from "./types.ts";

/** What the system produced for a simulated run, however it was read (in-process pipeline, or InfluxDB / API). */
export interface SystemOutputs {
  /** every TrackUpdate event */
  trackUpdates: Iterable<TrackUpdate>;
  /** every person track: the SystemPerson fields plus its best upper colour with confidence */
  persons: Array<SystemPerson & { upper: string; upper_conf: number }>;
  /** the person ids the path query for upper=blue returned (default: persons filtered by `upper`) */
  blueReturned?: Iterable<string>;
  /** camera-based count of a zone at an instant */
  zoneCount(space: string, at: number): number | Promise<number>;
}

export interface ScenarioFigures {
  tracking: TrackingEvaluation;
  blue: PathQueryMetrics;
  distance: DistanceMetrics;
  zones: ZoneOccupancyMetrics;
  report: string;
}

/** Instants at which zone counts are compared: `n` evenly spread over the run, skipping its first and last minute. */
export function zoneSampleTimes(truth: CameraTruth, n = 20): number[] {
  const from = truth.startTs + 60_000, to = truth.endTs - 60_000;
  return Array.from({ length: n }, (_, i) => Math.round(from + ((i + 0.5) * (to - from)) / n));
}

/**
 * Evaluates a simulated run against its ground truth: tracking (MOTA / IDF1 per camera and across
 * cameras), the "upper=blue" path query, mean distance walked, and camera-based zone occupancy of
 * every space with a polygon at `zoneSampleTimes`.
 */
export async function evaluateScenario(truth: CameraTruth, out: SystemOutputs, title: string): Promise<ScenarioFigures> {
  const truthPersons: TruthPerson[] = truth.persons.map((p) => ({
    person: p.id, attrs: { upper: p.upper, lower: p.lower, shoes: p.shoes }, distance_m: p.distanceM,
  }));
  const tracking = evaluateTracking({
    truth: truth.frames.map((f) => ({ camera: f.camera, frameTs: f.frameTs, visible: f.visible, detections: f.detections })),
    hypotheses: out.trackUpdates,
    persons: out.persons,
  });
  const returned = out.blueReturned ?? out.persons.filter((p) => p.upper === "blue").map((p) => p.person);
  const blue = pathQueryMetrics({ returned, filter: { upper: "blue" }, evaluation: tracking, truth: truthPersons });
  const distance = distanceMetrics({ system: out.persons, truth: truthPersons, evaluation: tracking });
  const samples = [];
  for (const at of zoneSampleTimes(truth)) {
    for (const s of truth.plan.spaces) {
      if (!s.polygon) continue;
      samples.push({ zone: s.id, at, system: await out.zoneCount(s.id, at), truth: truth.zoneCountAt(s.id, at) });
    }
  }
  const zones = zoneOccupancyError(samples);
  const report = formatAccuracyReport({ title, tracking, pathQueries: [blue], distance, zones });
  return { tracking, blue, distance, zones, report };
}
