import { z } from "zod";
import path from "node:path";

/**
 * The one typed configuration of every footfall process. Defaults below; each field can be
 * overridden by the environment variable named beside it. Validated at start: a bad value
 * stops the process with the variable's name and the reason.
 */
const port = z.coerce.number().int().min(0).max(65535);
const duration = z.string().regex(/^\d+[smhdw]$|^INF$/, "an InfluxDB duration such as 30d, 12h or INF");

export const ConfigSchema = z.object({
  /** FOOTFALL_DATA_DIR: service data, logs, simulator buffers */
  dataDir: z.string().min(1),
  /** NATS_URL: use this NATS server instead of starting one */
  natsUrl: z.string().url().optional(),
  /** INFLUX_URL: use this InfluxDB (http://host:port) instead of starting one */
  influxUrl: z.string().url().optional(),
  /** FOOTFALL_BIND: address every footfall listener binds */
  bind: z.string().min(1),
  /** FOOTFALL_HTTP_PORT: the HTTP API */
  httpPort: port,
  /** FOOTFALL_MQTT_PORT: the MQTT broker */
  mqttPort: port,
  /** FOOTFALL_NATS_PORT: port of the nats-server we start */
  natsPort: port,
  /** FOOTFALL_INFLUX_PORT: port of the influxd we start */
  influxPort: port,
  /** FOOTFALL_BROKER_OPS_PORT: broker /healthz and /metrics */
  brokerOpsPort: port,
  /** FOOTFALL_HOST_OPS_PORT: actor host /healthz and /metrics (0 = any free port) */
  hostOpsPort: port,
  /** FOOTFALL_ADMIN_TOKEN: bearer token for topology and admin endpoints */
  adminToken: z.string().min(8, "must be at least 8 characters"),
  /** FOOTFALL_INFLUX_DB */
  influxDb: z.string().regex(/^[a-z_][a-z0-9_]*$/),
  /** FOOTFALL_RAW_RETENTION: how long raw series are kept */
  rawRetention: duration,
  /** FOOTFALL_ROLLUP_RETENTION: how long hourly rollups are kept */
  rollupRetention: duration,
  /** FOOTFALL_PARTITIONS: actor partitions; fixed for an installation */
  partitions: z.coerce.number().int().min(1).max(1024),
  /** FOOTFALL_LEASE_TTL_MS: a dead host's partitions are taken over after this */
  leaseTtlMs: z.coerce.number().int().min(1000),
  /** FOOTFALL_FLUSH_MS: how often actors' InfluxDB writes and messages are flushed */
  flushMs: z.coerce.number().int().min(10),
  /** FOOTFALL_CHECKPOINT_MS: how often actor snapshots and partition checkpoints are written */
  checkpointMs: z.coerce.number().int().min(50),
  /** FOOTFALL_SNAPSHOT_MS: a changed actor's snapshot is written at most this often (busy actors with large states) */
  snapshotMs: z.coerce.number().int().min(0),
  /** FOOTFALL_IDLE_MS: actors idle this long are passivated (state snapshotted, dropped from memory) */
  idleMs: z.coerce.number().int().min(100),
  /** FOOTFALL_LATE_HORIZON_H: how late (event time behind the newest) a crossing may be and still correct history */
  lateHorizonHours: z.coerce.number().min(0.01),
  /** FOOTFALL_MAX_TIMELINE: most events (seen keys, points) one occupancy actor keeps for late corrections */
  maxTimeline: z.coerce.number().int().min(1000),
  /** FOOTFALL_MAX_FUTURE_MS: crossings stamped further ahead of the wall clock are refused (0 = accept any) */
  maxFutureMs: z.coerce.number().int().min(0),
  /** FOOTFALL_CAMERA_REORDER_MS: how long (frame time) a camera actor waits for a missing frame before tracking on without it */
  cameraReorderMs: z.coerce.number().int().min(0).max(600_000),
  /** FOOTFALL_LINKER_WAIT_MS: the linker merges its cameras in event time and waits for a camera at most this far (frame time) behind the newest */
  linkerWaitMs: z.coerce.number().int().min(0).max(24 * 3_600_000),
  /** FOOTFALL_PERSON_SILENCE_S: a person nobody has seen for this long (stream time) is ended; must exceed cameras' neighbour max_s */
  personSilenceS: z.coerce.number().min(1).max(86_400),
  /** FOOTFALL_MAX_PAYLOAD: largest MQTT / HTTP ingest payload in bytes */
  maxPayloadBytes: z.coerce.number().int().min(256),
  /** FOOTFALL_MAX_CHUNK_BYTES: largest video chunk a camera agent may upload */
  maxChunkBytes: z.coerce.number().int().min(1024),
  /** FOOTFALL_VIDEO_SWEEP_S: how often the video retention job runs (warm -> cold -> purged, quotas) */
  videoSweepS: z.coerce.number().min(1),
  /** FOOTFALL_VIDEO_URL_SECRET: key of signed chunk URLs (default: a random key kept in {dataDir}/video/url-secret) */
  videoUrlSecret: z.string().min(16, "must be at least 16 characters").optional(),
  /** FOOTFALL_LOG_LEVEL */
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
});
export type Config = z.infer<typeof ConfigSchema>;

const ENV: Record<keyof Config, string> = {
  dataDir: "FOOTFALL_DATA_DIR",
  natsUrl: "NATS_URL",
  influxUrl: "INFLUX_URL",
  bind: "FOOTFALL_BIND",
  httpPort: "FOOTFALL_HTTP_PORT",
  mqttPort: "FOOTFALL_MQTT_PORT",
  natsPort: "FOOTFALL_NATS_PORT",
  influxPort: "FOOTFALL_INFLUX_PORT",
  brokerOpsPort: "FOOTFALL_BROKER_OPS_PORT",
  hostOpsPort: "FOOTFALL_HOST_OPS_PORT",
  adminToken: "FOOTFALL_ADMIN_TOKEN",
  influxDb: "FOOTFALL_INFLUX_DB",
  rawRetention: "FOOTFALL_RAW_RETENTION",
  rollupRetention: "FOOTFALL_ROLLUP_RETENTION",
  partitions: "FOOTFALL_PARTITIONS",
  leaseTtlMs: "FOOTFALL_LEASE_TTL_MS",
  flushMs: "FOOTFALL_FLUSH_MS",
  checkpointMs: "FOOTFALL_CHECKPOINT_MS",
  snapshotMs: "FOOTFALL_SNAPSHOT_MS",
  idleMs: "FOOTFALL_IDLE_MS",
  lateHorizonHours: "FOOTFALL_LATE_HORIZON_H",
  maxTimeline: "FOOTFALL_MAX_TIMELINE",
  maxFutureMs: "FOOTFALL_MAX_FUTURE_MS",
  cameraReorderMs: "FOOTFALL_CAMERA_REORDER_MS",
  personSilenceS: "FOOTFALL_PERSON_SILENCE_S",
  linkerWaitMs: "FOOTFALL_LINKER_WAIT_MS",
  maxPayloadBytes: "FOOTFALL_MAX_PAYLOAD",
  maxChunkBytes: "FOOTFALL_MAX_CHUNK_BYTES",
  videoSweepS: "FOOTFALL_VIDEO_SWEEP_S",
  videoUrlSecret: "FOOTFALL_VIDEO_URL_SECRET",
  logLevel: "FOOTFALL_LOG_LEVEL",
};

export const DEFAULTS: Omit<Config, "natsUrl" | "influxUrl" | "videoUrlSecret"> = {
  dataDir: path.resolve(".footfall"),
  bind: "127.0.0.1",
  httpPort: 8080,
  mqttPort: 1883,
  natsPort: 4222,
  influxPort: 8086,
  brokerOpsPort: 9101,
  hostOpsPort: 9102,
  adminToken: "footfall-admin-dev-token",
  influxDb: "footfall",
  rawRetention: "30d",
  rollupRetention: "INF",
  partitions: 16,
  leaseTtlMs: 5000,
  flushMs: 100,
  checkpointMs: 1000,
  snapshotMs: 10_000,
  idleMs: 60_000,
  lateHorizonHours: 48,
  maxTimeline: 200_000,
  maxFutureMs: 10 * 60_000,
  cameraReorderMs: 5000,
  personSilenceS: 60,
  linkerWaitMs: 60_000,
  maxPayloadBytes: 256 * 1024,
  maxChunkBytes: 256 * 1024 * 1024,
  videoSweepS: 3600,
  logLevel: "info",
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Builds the configuration: defaults, then environment, then explicit overrides (CLI flags, tests). */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, name] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== "") raw[key] = v;
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) raw[k] = v;
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const key = String(i.path[0]) as keyof Config;
        return `${ENV[key] ?? key} (${key}): ${i.message}`;
      }),
    );
  }
  const c = parsed.data;
  return { ...c, dataDir: path.resolve(c.dataDir) };
}

/** The NATS URL to connect to: the external one, or the one we start. */
export const natsUrlOf = (c: Config) => c.natsUrl ?? `nats://127.0.0.1:${c.natsPort}`;
/** The InfluxDB URL to connect to: the external one, or the one we start. */
export const influxUrlOf = (c: Config) => c.influxUrl ?? `http://127.0.0.1:${c.influxPort}`;
