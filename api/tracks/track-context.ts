import type { StoredTopology } from "../../contracts/topology.ts";
import type { TopologyStore } from "../../topology/topology-store.ts";
import { badRequest, fromService, notFound } from "../http/api-error.ts";
import type { CameraHealthReader } from "./camera-health.ts";
import type { ExtractionCoverage } from "../jobs/extraction-coverage.ts";
import type { JobRunner } from "../jobs/job-runner.ts";
import type { JobStore } from "../jobs/jobs.ts";
import type { OccupancyReader } from "../occupancy/occupancy-reader.ts";
import type { QueryHistory } from "../queries/query-history.ts";
import type { QueryMetrics } from "../queries/query-metrics.ts";
import type { QueryRecorder } from "../queries/query-recorder.ts";
import type { RetentionGuard } from "./retention.ts";
import type { PersonReader } from "./track-reader.ts";
import type { ZoneReader } from "./zone-reader.ts";

/** What the camera-pipeline routes share (built once by track-api.ts). */
export interface TrackContext {
  topology: TopologyStore;
  persons: PersonReader;
  zones: ZoneReader;
  cameras: CameraHealthReader;
  occupancy: OccupancyReader;
  coverage: ExtractionCoverage;
  jobs: JobStore;
  runner: JobRunner;
  history: QueryHistory;
  recorder: QueryRecorder;
  retention: RetentionGuard;
  metrics: QueryMetrics;
}

/** The site's stored topology, or 404. */
export async function siteTopology(ctx: TrackContext, site: string): Promise<StoredTopology> {
  const t = await fromService("the topology store", ctx.topology.get(site));
  if (!t) throw notFound(`site "${site}" has no topology`);
  return t;
}

/** 400 unless `space` (a query parameter) is a space of the site. */
export function requireSpaceParam(t: StoredTopology, space: string, name: string): void {
  if (!t.spaces.some((s) => s.id === space)) throw badRequest(`invalid query: ${name}: "${space}" is not a space of site "${t.site}"`);
}

/** 404 unless `space` (a path parameter) is a space of the site. */
export function requireSpacePath(t: StoredTopology, space: string): void {
  if (!t.spaces.some((s) => s.id === space)) throw notFound(`space "${space}" is not part of site "${t.site}"`);
}
