import { Router } from "express";
import type { InfluxDB } from "influx";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import { KV_EXTRACTION, KV_JOBS, KV_QUERIES } from "../../contracts/nats-layout.ts";
import type { Config } from "../../infra/config.ts";
import type { Logger } from "../../infra/log.ts";
import type { AttributeExtractor } from "../../models/extractor.ts";
import type { TopologyStore } from "../../topology/topology-store.ts";
import { CameraHealthReader } from "./camera-health.ts";
import { cameraRoutes } from "./camera-routes.ts";
import { ExtractionCoverage } from "../jobs/extraction-coverage.ts";
import { heatmapRoutes } from "./heatmap-routes.ts";
import { JobRunner, type JobRunnerOptions } from "../jobs/job-runner.ts";
import { jobRoutes } from "../jobs/job-routes.ts";
import { JobStore } from "../jobs/jobs.ts";
import { OccupancyReader } from "../occupancy/occupancy-reader.ts";
import { pathsRoutes } from "./paths-routes.ts";
import { QueryHistory } from "../queries/query-history.ts";
import { QueryMetrics } from "../queries/query-metrics.ts";
import { QueryRecorder } from "../queries/query-recorder.ts";
import { queryRoutes } from "../queries/query-routes.ts";
import { RetentionGuard } from "./retention.ts";
import { statsRoutes } from "./stats-routes.ts";
import type { TrackContext } from "./track-context.ts";
import { PersonReader } from "./track-reader.ts";
import { zoneRoutes } from "./zone-routes.ts";
import { ZoneReader } from "./zone-reader.ts";

/**
 * The camera-pipeline part of the API (under /api/v1): paths, statistics, heatmap, zones, lines,
 * cameras, query history and reprocessing jobs, with the job runner that works in this process.
 */
export interface TrackApiOptions {
  /** longest person track a query looks back for before `from` (default 6 h) */
  maxTrackMs?: number;
  jobs?: Partial<JobRunnerOptions>;
  /** largest stored query result (default 3 MiB) */
  maxResultBytes?: number;
}

export interface TrackApiDeps {
  cfg: Config;
  influx: InfluxDB;
  nc: NatsConnection;
  topology: TopologyStore;
  log: Logger;
  metrics: Registry;
  extractor?: AttributeExtractor | undefined;
  options?: TrackApiOptions | undefined;
}

export interface TrackApi {
  router: Router;
  runner: JobRunner;
  /** stops the job runner (running jobs stay resumable) */
  close(): Promise<void>;
}

/** Opens a KV bucket on first use (and again after a failed open). */
function lazyBucket(kvm: Kvm, name: string): () => Promise<KV> {
  let p: Promise<KV> | undefined;
  return () => (p ??= kvm.open(name).catch((e: unknown) => { p = undefined; throw e; }));
}

export function trackApi(deps: TrackApiDeps): TrackApi {
  const { cfg, influx, nc, log } = deps;
  const opts = deps.options ?? {};
  const kvm = new Kvm(nc);
  const metrics = new QueryMetrics(deps.metrics);
  const persons = new PersonReader(influx, cfg.influxDb, opts.maxTrackMs === undefined ? {} : { maxTrackMs: opts.maxTrackMs });
  const coverage = new ExtractionCoverage(influx, cfg.influxDb, lazyBucket(kvm, KV_EXTRACTION));
  const jobs = new JobStore(lazyBucket(kvm, KV_JOBS));
  const history = new QueryHistory(lazyBucket(kvm, KV_QUERIES), opts.maxResultBytes, () => nc.info?.max_payload);
  const runner = new JobRunner({
    jobs, coverage, persons, js: jetstream(nc), partitions: cfg.partitions, extractor: deps.extractor,
    log: log.child({ component: "jobs" }), metrics,
  }, opts.jobs);
  const ctx: TrackContext = {
    topology: deps.topology, persons, zones: new ZoneReader(influx, cfg.influxDb), cameras: new CameraHealthReader(influx, cfg.influxDb),
    occupancy: new OccupancyReader(influx, cfg.influxDb), coverage, jobs, runner, history,
    recorder: new QueryRecorder(history, metrics, log), retention: new RetentionGuard(cfg.rawRetention), metrics,
  };
  const router = Router();
  router.use(pathsRoutes(ctx), statsRoutes(ctx), heatmapRoutes(ctx), zoneRoutes(ctx), cameraRoutes(ctx), queryRoutes(ctx), jobRoutes(ctx));
  runner.start();
  return { router, runner, close: () => runner.stop() };
}
