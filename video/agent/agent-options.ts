/**
 * Command-line options of the camera agent's chunking-and-upload process (`footfall agent`,
 * video/agent/main.ts), checked. `parseAgentOptions` throws an AgentOptionsError at the first
 * problem, with its details for the log line.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { TOKEN_RE } from "../../contracts/ids.ts";
import { readVariable } from "../../infra/config.ts";
import { readCaFile } from "../../infra/tls.ts";
import { BrokerList } from "../../edge/broker-list.ts";
import type { ChunkFormat, VideoSource } from "./segmenter.ts";
import { MAX_UPLOAD_CONCURRENCY } from "./upload-limits.ts";

/** the options as commander hands them over */
export interface AgentRawOptions {
  camera: string;
  source: string;
  /** default: {dataRoot}/agent/{camera} */
  data?: string;
  segment: string;
  realtime?: boolean;
  loop?: boolean;
  format: string;
  secretFile?: string;
  rtspTransport: string;
  api?: string;
  mqtt?: string;
  site?: string;
  uploadConcurrency: string;
  uploadGrace: string;
  keepMb?: string;
  opsPort?: string;
  opsHost: string;
  /** PEM CA file the API's and the broker's TLS certificates must verify against */
  ca?: string;
}

export interface AgentOptions {
  camera: string;
  source: VideoSource;
  dataDir: string;
  segmentSeconds: number;
  format: ChunkFormat;
  /** the camera's device secret: MQTT and HTTP Basic password, chunk signing key */
  secret: string;
  api?: string;
  /** MQTT announcements: only with `api` */
  mqtt?: { url: string; site: string };
  concurrency: number;
  graceMs: number;
  keepBytes?: number;
  ops?: { port: number; host: string };
  /** the trusted CA (PEM) for https:// and mqtts:// (--ca or FOOTFALL_TLS_CA); default: the system's roots */
  ca?: Buffer;
}

export class AgentOptionsError extends Error {
  constructor(message: string, readonly details: object = {}) {
    super(message);
  }
}

const readSecret = (file: string) => readFileSync(file).toString("utf8").replace(/\r?\n$/, "");

/**
 * Checks the options. `dataRoot` gives the folder the data folder goes under when --data is not
 * given (FOOTFALL_DATA_DIR); the secret comes from --secret-file or `env` (FOOTFALL_CAMERA_SECRET).
 */
export function parseAgentOptions(raw: AgentRawOptions, dataRoot: () => string, env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const fail = (msg: string, details: object = {}): never => { throw new AgentOptionsError(msg, details); };
  const secret = raw.secretFile ? readSecret(raw.secretFile) : readVariable("cameraSecret", env);
  if (!secret) return fail("no camera secret: set FOOTFALL_CAMERA_SECRET or --secret-file");
  const transport = raw.rtspTransport;
  if (transport !== "tcp" && transport !== "udp") return fail("--rtsp-transport must be tcp or udp", { rtspTransport: transport });
  const segmentSeconds = Number(raw.segment);
  if (!(segmentSeconds > 0 && segmentSeconds <= 3600)) fail("--segment must be seconds, > 0 and ≤ 3600", { value: raw.segment });
  const format = raw.format;
  if (format !== "mp4" && format !== "mkv" && format !== "ts") return fail("--format must be mp4, mkv or ts", { value: format });
  const concurrency = Number(raw.uploadConcurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_UPLOAD_CONCURRENCY) fail(`--upload-concurrency must be 1..${MAX_UPLOAD_CONCURRENCY}`, { value: raw.uploadConcurrency });
  const graceMs = Number(raw.uploadGrace) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0) fail("--upload-grace must be seconds ≥ 0", { value: raw.uploadGrace });
  const keepBytes = raw.keepMb !== undefined ? Number(raw.keepMb) * 1e6 : undefined;
  if (keepBytes !== undefined && !(keepBytes >= 0)) fail("--keep-mb must be a number ≥ 0", { value: raw.keepMb });
  if (raw.api && !/^https?:\/\//.test(raw.api)) fail("--api must be an http:// or https:// URL", { api: raw.api });
  if (raw.mqtt) {
    const list = BrokerList.safeParse(raw.mqtt);
    if (!list.success) fail(`--mqtt: ${list.error.issues.map((i) => i.message).join("; ")}`, { mqtt: raw.mqtt });
  }
  const caFile = raw.ca ?? readVariable("tlsCa", env);
  let ca: Buffer | undefined;
  if (caFile) { try { ca = readCaFile(caFile); } catch (e) { fail(`--ca: ${(e as Error).message}`, { ca: caFile }); } }
  if (raw.mqtt && (!raw.api || !raw.site)) fail("--mqtt needs --api (chunks are announced once stored) and --site");
  // the camera id names the default data folder: a path separator in it must not lead elsewhere
  if (raw.data === undefined && !TOKEN_RE.test(raw.camera)) fail("--camera must be 1-64 characters of A-Z a-z 0-9 _ - (it names the data folder; or give --data)", { value: raw.camera });

  const source: VideoSource = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw.source)
    ? { kind: "url", url: raw.source, rtspTransport: transport }
    : { kind: "file", path: raw.source, pace: raw.realtime ? "realtime" : "fast", loop: !!raw.loop };
  return {
    camera: raw.camera, source, dataDir: raw.data ?? path.join(dataRoot(), "agent", raw.camera), segmentSeconds, format, secret,
    concurrency, graceMs,
    ...(raw.api ? { api: raw.api } : {}),
    ...(raw.mqtt ? { mqtt: { url: raw.mqtt, site: raw.site! } } : {}),
    ...(keepBytes !== undefined ? { keepBytes } : {}),
    ...(raw.opsPort !== undefined ? { ops: { port: Number(raw.opsPort), host: raw.opsHost } } : {}),
    ...(ca ? { ca } : {}),
  };
}
