import path from "node:path";
import { z } from "zod";
import { readServiceSecrets, withCredentials } from "./service-secrets.ts";

/**
 * The one typed configuration of every footfall process, declared once: for each variable its
 * environment name, schema, default and meaning. Everything else is derived from this table:
 * the Config type, the defaults, the environment reader, the error messages (they name the
 * variable) and the table in docs/configuration.md (`npm run docs:config`, checked by a test).
 * Actor kinds take their tunables under the same names (actors/kinds.ts).
 */
interface Variable<S extends z.ZodType> {
  env: string;
  schema: S;
  default: z.output<S>;
  doc: string;
  /** the default as the docs show it, where the value itself would mislead (a path, "start our own") */
  shown?: string;
}

const variable = <S extends z.ZodType>(env: string, schema: S, dflt: z.output<S>, doc: string, shown?: string): Variable<S> =>
  ({ env, schema, default: dflt, doc, ...(shown === undefined ? {} : { shown }) });

const port = z.coerce.number().int().min(0).max(65535);
const duration = z.string().regex(/^\d+[smhdw]$|^INF$/, "an InfluxDB duration such as 30d, 12h or INF");
/** one URL, or a comma-separated list of them (a NATS cluster's seed servers) */
const natsUrls = z.string().min(1).refine((v) => v.split(",").every((one) => URL.canParse(one.trim())), "a URL, or a comma-separated list of URLs");
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

export const VARIABLES = {
  dataDir: variable("FOOTFALL_DATA_DIR", z.string().min(1), path.resolve(".footfall"),
    "service data, the chunk store, the camera agent's state, simulator buffers", "`./.footfall`"),
  natsUrl: variable("NATS_URL", natsUrls.optional(), undefined,
    "use this NATS server (JetStream enabled) and start none; a comma-separated list of a cluster's servers is tried in turn. Credentials go in the URL: `nats://user:password@host:4222`", "(start our own)"),
  influxUrl: variable("INFLUX_URL", z.string().url().optional(), undefined,
    "use this InfluxDB 1.x (http://host:port) and start none. Credentials go in the URL: `http://user:password@host:8086`", "(start our own)"),
  bind: variable("FOOTFALL_BIND", z.string().min(1), "127.0.0.1", "address every footfall listener binds"),
  httpPort: variable("FOOTFALL_HTTP_PORT", port, 8080, "the HTTP API"),
  mqttPort: variable("FOOTFALL_MQTT_PORT", port, 1883, "the MQTT broker"),
  natsPort: variable("FOOTFALL_NATS_PORT", port, 4222, "port of the nats-server footfall starts"),
  influxPort: variable("FOOTFALL_INFLUX_PORT", port, 8086, "port of the influxd footfall starts (it also binds port+2 for its RPC)"),
  brokerOpsPort: variable("FOOTFALL_BROKER_OPS_PORT", port, 9101, "the broker's /healthz and /metrics (0 = any free port)"),
  hostOpsPort: variable("FOOTFALL_HOST_OPS_PORT", port, 9102, "the actor host's /healthz and /metrics (0 = any free port)"),
  gatewayPort: variable("FOOTFALL_GATEWAY_PORT", port, 8090,
    "`footfall gateway`: the live feed (`/api/v1/live`), /healthz and /metrics (the API serves the live feed too)"),
  tlsCert: variable("FOOTFALL_TLS_CERT", z.string().min(1).optional(), undefined,
    "PEM certificate (chain) of the MQTT broker, the API and `footfall gateway`; with FOOTFALL_TLS_KEY, TLS is required: MQTT is served only over TLS on FOOTFALL_MQTTS_PORT (FOOTFALL_MQTT_PORT is not opened), the API and the gateway only over HTTPS", "(none: plain MQTT and HTTP)"),
  tlsKey: variable("FOOTFALL_TLS_KEY", z.string().min(1).optional(), undefined,
    "PEM private key of FOOTFALL_TLS_CERT", "(none)"),
  mqttsPort: variable("FOOTFALL_MQTTS_PORT", port, 8883, "the MQTT broker over TLS (only with FOOTFALL_TLS_CERT and FOOTFALL_TLS_KEY)"),
  tlsCa: variable("FOOTFALL_TLS_CA", z.string().min(1).optional(), undefined,
    "PEM CA file the camera agent and the simulator verify the server's certificate against (or their --ca); unset: the system's trusted roots", "(system roots)"),
  adminToken: variable("FOOTFALL_ADMIN_TOKEN", z.string().min(8, "must be at least 8 characters"), "footfall-admin-dev-token",
    "bearer token of the topology and admin endpoints: set your own"),
  influxDb: variable("FOOTFALL_INFLUX_DB", z.string().regex(/^[a-z_][a-z0-9_]*$/), "footfall", "InfluxDB database"),
  rawRetention: variable("FOOTFALL_RAW_RETENTION", duration, "30d", "how long raw points are kept"),
  rollupRetention: variable("FOOTFALL_ROLLUP_RETENTION", duration, "INF", "how long hourly rollups are kept"),
  partitions: variable("FOOTFALL_PARTITIONS", int(1, 1024), 16, "actor partitions; fixed for an installation"),
  replicas: variable("FOOTFALL_REPLICAS", int(1, 5).optional(), undefined,
    "replicas of every JetStream stream and KV bucket (a NATS cluster needs at least as many nodes); unset: new ones get 1 and existing ones keep theirs",
    "1 (3 with `footfall up --nodes 3`)"),
  leaseTtlMs: variable("FOOTFALL_LEASE_TTL_MS", int(1000), 5000, "a dead host's partitions are taken over after this"),
  flushMs: variable("FOOTFALL_FLUSH_MS", int(10), 100, "how often actors' InfluxDB writes and messages are flushed"),
  checkpointMs: variable("FOOTFALL_CHECKPOINT_MS", int(50), 1000, "how often actor snapshots and partition checkpoints are written"),
  snapshotMs: variable("FOOTFALL_SNAPSHOT_MS", int(0), 10_000,
    "a changed actor's snapshot is written at most this often; the partition checkpoint waits for it, so a crash replays about this much (more for large states, see FOOTFALL_SNAPSHOT_BYTES_PER_MSG)"),
  snapshotBytesPerMessage: variable("FOOTFALL_SNAPSHOT_BYTES_PER_MSG", int(0), 512,
    "a changed actor's snapshot also waits until the actor has handled its last snapshot's size divided by this many messages: a busy actor with a large state (a doorway's or space's late-correction window) writes about this many snapshot bytes per message, not its whole state every interval; a crash replays up to that many messages; 0: no pacing"),
  idleMs: variable("FOOTFALL_IDLE_MS", int(100), 60_000, "actors idle this long are passivated (snapshotted, dropped from memory)"),
  lateHorizonHours: variable("FOOTFALL_LATE_HORIZON_H", z.coerce.number().min(0.01), 48,
    "how late (event time behind the newest) a crossing may arrive and still correct history"),
  maxTimeline: variable("FOOTFALL_MAX_TIMELINE", int(1000), 200_000,
    "most events (seen crossing ids, timeline points) one doorway, space or site actor keeps for late corrections; older ones are folded away early and later events older than them refused as too late"),
  maxFutureMs: variable("FOOTFALL_MAX_FUTURE_MS", int(0), 10 * 60_000,
    "crossings stamped more than this ahead of the wall clock are refused (a device with a wrong clock would otherwise make every correct crossing look late); 0 accepts any"),
  cameraReorderMs: variable("FOOTFALL_CAMERA_REORDER_MS", int(0, 600_000), 5000,
    "how long (frame time) a camera actor waits for a missing earlier frame before tracking on without it; later frames are counted as late, not tracked"),
  linkerWaitMs: variable("FOOTFALL_LINKER_WAIT_MS", int(0, 24 * 3_600_000), 60_000,
    "the linker merges its cameras in frame-time order and waits for a camera at most this far behind the newest one (an off camera must not stop linking)"),
  linkerQuietMs: variable("FOOTFALL_LINKER_QUIET_MS", int(1000, 3_600_000), 30_000,
    "wall time without any camera message after which the linker links what it holds without waiting for the cameras behind (the end of a stream); an outage that holds every camera's messages up longer than this makes linking differ from an undisturbed run"),
  personSilenceS: variable("FOOTFALL_PERSON_SILENCE_S", z.coerce.number().min(1).max(86_400), 60,
    "a person no camera has seen for this long (frame time) is ended; must exceed the cameras' neighbour max_s"),
  liveResumeS: variable("FOOTFALL_LIVE_RESUME_S", int(0, 86_400), 300,
    "a live-feed client reconnecting with its last seq gets the updates it missed when they are at most this old; otherwise a new snapshot"),
  liveMaxBufferBytes: variable("FOOTFALL_LIVE_MAX_BUFFER", int(1024), 1024 * 1024,
    "a live-feed client's unsent bytes above which its updates wait and are coalesced (the newest per space, person, camera, device)"),
  liveSlowMs: variable("FOOTFALL_LIVE_SLOW_MS", int(100), 10_000,
    "a live-feed client whose unsent bytes stay above FOOTFALL_LIVE_MAX_BUFFER this long is disconnected (close code 4408)"),
  livePingMs: variable("FOOTFALL_LIVE_PING_MS", int(100), 15_000,
    "live-feed websocket ping interval; a client that has answered neither of the last two pings is dropped"),
  liveHeartbeatMs: variable("FOOTFALL_LIVE_HEARTBEAT_MS", int(100, 600_000), 5000,
    "every subscribed live-feed client gets a heartbeat message this often (a page cannot see websocket pings); the wall reconnects a socket silent for three of them and shows its data stale"),
  liveDeviceMs: variable("FOOTFALL_LIVE_DEVICE_MS", int(100), 5000,
    "how often the live feed recomputes device health for the sites it serves"),
  dpuSilentS: variable("FOOTFALL_DPU_SILENT_S", int(1), 900,
    "a DPU without a crossing for this long is shown as silent"),
  maxPayloadBytes: variable("FOOTFALL_MAX_PAYLOAD", int(256), 256 * 1024, "largest MQTT / HTTP ingest payload (bytes)"),
  mqttMaxConnectBytes: variable("FOOTFALL_MQTT_MAX_CONNECT", int(256, 1024 * 1024), 4096,
    "largest MQTT packet (bytes) before the client has authenticated, i.e. its CONNECT; a larger one closes the connection unread. After CONNECT the limit is FOOTFALL_MAX_PAYLOAD plus room for the topic"),
  mqttConnectTimeoutMs: variable("FOOTFALL_MQTT_CONNECT_TIMEOUT_MS", int(100, 600_000), 5000,
    "an MQTT connection that has not sent CONNECT within this long is closed"),
  mqttMaxConnectionsPerDevice: variable("FOOTFALL_MQTT_MAX_CONNECTIONS_PER_DEVICE", int(1, 10_000), 4,
    "most MQTT connections one device id may hold open at once; the next is refused (CONNACK server unavailable)"),
  mqttStoresInFlight: variable("FOOTFALL_MQTT_STORES_IN_FLIGHT", int(1, 65_535), 64,
    "JetStream stores one MQTT connection may have in flight (its publishes read, not yet confirmed stored); at the bound the broker stops reading that connection until one is confirmed"),
  authFreeFailures: variable("FOOTFALL_AUTH_FREE_FAILURES", int(0), 3,
    "failed logins (MQTT, HTTP) from one address, or naming one device / key id, before that address's attempts, or the wrong answers for that id, are delayed"),
  authDelayMs: variable("FOOTFALL_AUTH_DELAY_MS", int(0, 60_000), 250,
    "the first delay of a throttled login; it doubles with each further failure (0: no delays). A right secret from an address that is not throttled is never delayed"),
  authMaxDelayMs: variable("FOOTFALL_AUTH_MAX_DELAY_MS", int(0, 600_000), 5000,
    "the longest delay of a throttled login"),
  authBanAfter: variable("FOOTFALL_AUTH_BAN_AFTER", int(0), 20,
    "failed logins from one address after which it is banned (0: never); a device or key id is never banned"),
  authBanS: variable("FOOTFALL_AUTH_BAN_S", int(1, 7 * 86_400), 300,
    "how long an address is banned; failures are forgotten this long after the last one"),
  ingestWindowMs: variable("FOOTFALL_INGEST_WINDOW_MS", int(100, 3_600_000), 5000,
    "each broker publishes how many device messages it stored for each site in this window (the ingest rate)"),
  maxChunkBytes: variable("FOOTFALL_MAX_CHUNK_BYTES", int(1024), 256 * 1024 * 1024, "largest video chunk a camera agent may upload (bytes)"),
  videoSweepS: variable("FOOTFALL_VIDEO_SWEEP_S", z.coerce.number().min(1), 3600,
    "how often the video retention job runs (warm → cold → purged, quotas)"),
  videoUrlSecret: variable("FOOTFALL_VIDEO_URL_SECRET", z.string().min(16, "must be at least 16 characters").optional(), undefined,
    "key of signed chunk URLs", "(random, kept in `{data dir}/video/url-secret`)"),
  detectorModel: variable("FOOTFALL_DETECTOR_MODEL", z.string().trim().min(1), "nanodet-m",
    "the person detector: `nanodet-m`, or `yolov8:/path/model.onnx[:size]` for your own YOLOv8 export"),
  cameraSecret: variable("FOOTFALL_CAMERA_SECRET", z.string().min(1).optional(), undefined,
    "the camera agent's device secret (`footfall agent`, `footfall agent detect`; or --secret-file)", "(none)"),
  ffmpegPath: variable("FFMPEG_PATH", z.string().min(1), "ffmpeg", "the ffmpeg binary (video processes)"),
  ffprobePath: variable("FFPROBE_PATH", z.string().min(1), "ffprobe", "the ffprobe binary (video processes)"),
  influxUnhealthyS: variable("FOOTFALL_INFLUX_UNHEALTHY_S", z.coerce.number().min(1).max(86_400), 30,
    "an actor host whose InfluxDB writes have failed for this long reports unhealthy on /healthz (503) until one succeeds"),
  influxBufferPoints: variable("FOOTFALL_INFLUX_BUFFER_POINTS", int(100, 100_000_000), 200_000,
    "InfluxDB points an actor host holds while InfluxDB is down or slow; above it its partitions stop consuming until the backlog drains"),
  logLevel: variable("FOOTFALL_LOG_LEVEL", z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]), "info", "pino log level"),
};

type Variables = typeof VARIABLES;
export type ConfigKey = keyof Variables;
type Shape = { [K in ConfigKey]: Variables[K]["schema"] };

const keys = Object.keys(VARIABLES) as ConfigKey[];
export const ConfigSchema = z.object(Object.fromEntries(keys.map((k) => [k, VARIABLES[k].schema])) as Shape);
export type Config = z.infer<typeof ConfigSchema>;

/** Every variable's default (undefined: none; e.g. NATS_URL unset means footfall starts its own nats-server). */
export const DEFAULTS = Object.fromEntries(keys.map((k) => [k, VARIABLES[k].default])) as { [K in ConfigKey]: Variables[K]["default"] };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

const problemOf = (key: ConfigKey, message: string) => `${VARIABLES[key].env} (${key}): ${message}`;

/** Builds the configuration: defaults, then environment, then explicit overrides (CLI flags, tests). */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const k of keys) {
    const fromEnv = env[VARIABLES[k].env];
    raw[k] = overrides[k] ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : VARIABLES[k].default);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => problemOf(String(i.path[0]) as ConfigKey, i.message)));
  return { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir) };
}

/** One variable from the environment (its default when unset), for a process that needs only that one. */
export function readVariable<K extends ConfigKey>(key: K, env: NodeJS.ProcessEnv = process.env): z.output<Variables[K]["schema"]> {
  const v = VARIABLES[key];
  const fromEnv = env[v.env];
  const parsed = v.schema.safeParse(fromEnv !== undefined && fromEnv !== "" ? fromEnv : v.default);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => problemOf(key, i.message)));
  return parsed.data as z.output<Variables[K]["schema"]>;
}

/**
 * The NATS URL to connect to: the external one (with the credentials its operator put in it), or
 * the one we start, with the credentials stored in the data folder (infra/service-secrets.ts).
 */
export const natsUrlOf = (c: Config) => c.natsUrl ?? withCredentials(`nats://127.0.0.1:${c.natsPort}`, readServiceSecrets(c.dataDir)?.nats);
/** The InfluxDB URL to connect to: the external one, or the one we start, with its stored credentials. */
export const influxUrlOf = (c: Config) => c.influxUrl ?? withCredentials(`http://127.0.0.1:${c.influxPort}`, readServiceSecrets(c.dataDir)?.influx);

/** Whether a bind address reaches only this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Refuses the built-in admin token (DEFAULTS.adminToken, published in these sources) when the
 * listeners bind to anything but loopback: anyone who can reach the API would be its admin.
 * Called by every process that accepts the admin token, before it listens.
 */
export function checkAdminToken(cfg: Pick<Config, "adminToken" | "bind">): void {
  if (cfg.adminToken !== VARIABLES.adminToken.default || isLoopback(cfg.bind)) return;
  throw new ConfigError([problemOf("adminToken",
    `the built-in development token is refused when ${VARIABLES.bind.env} is ${cfg.bind} (not loopback): set ${VARIABLES.adminToken.env} to a secret of your own (e.g. openssl rand -base64 24)`)]);
}
