/**
 * The camera agent as a process: cuts a camera's video source into signed chunks in a data folder
 * and resumes where it stopped after a restart; with --api it also uploads every recorded chunk to
 * the chunk store (uploader.ts), and with --mqtt announces each stored chunk on
 * footfall/v1/{site}/camera/{id}/chunk (MQTT client id "{camera}.chunks").
 *
 *   npx tsx video/agent/main.ts --camera cam-1 --source rtsp://10.0.0.5/stream --data .data/video-agent/cam-1
 *   npx tsx video/agent/main.ts --camera cam-1 --source clip.mp4 --realtime --loop --segment 2 \
 *     --api http://127.0.0.1:8080 --mqtt mqtt://127.0.0.1:1883 --site mall --ops-port 9464
 *
 * The camera's device secret (MQTT password, HTTP Basic password and the chunk signing key) comes
 * from --secret-file (raw bytes of the file, trailing newline removed) or FOOTFALL_CAMERA_SECRET;
 * --key-file and FOOTFALL_CAMERA_KEY are older names for the same.
 *
 * SIGINT / SIGTERM: the segmenter stops, in-flight uploads get --upload-grace seconds to finish,
 * the upload ledger is written, MQTT disconnects cleanly. A second signal exits at once. When a
 * file source ends by itself, the agent first uploads everything recorded, then exits.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { CameraUplink } from "./camera-uplink.ts";
import { createLogger } from "../../infra/log.ts";
import { startOpsServer, type OpsServer } from "../../infra/ops-server.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { runCameraAgent } from "./agent.ts";
import type { ChunkFormat, VideoSource } from "./segmenter.ts";
import { registerCameraAgentMetrics, type CameraAgentMetrics } from "./upload-metrics.ts";
import { abortOnSignal } from "../../infra/process.ts";
import { DEFAULT_UPLOAD_CONCURRENCY, MAX_UPLOAD_CONCURRENCY, Uploader } from "./uploader.ts";

const opts = new Command()
  .requiredOption("--camera <id>", "camera id (A-Z a-z 0-9 _ -)")
  .requiredOption("--source <path|url>", "video file, or rtsp:// http:// tcp:// URL")
  .option("--data <dir>", "data folder (chunks, state)", ".data/camera-agent")
  .option("--segment <s>", "chunk length in seconds (cut at the next keyframe)", "2")
  .option("--realtime", "read a file at its frame rate (-re), like a camera")
  .option("--loop", "loop a file forever (treated as a live source)")
  .option("--format <f>", "chunk container: mp4, mkv or ts", "mp4")
  .option("--secret-file <file>", "file holding the camera's device secret (else FOOTFALL_CAMERA_SECRET)")
  .option("--key-file <file>", "same as --secret-file (older name; env FOOTFALL_CAMERA_KEY)")
  .option("--rtsp-transport <t>", "RTSP media over tcp (interleaved) or udp", "tcp")
  .option("--api <url>", "chunk store base URL, e.g. http://127.0.0.1:8080 (without it the agent only records)")
  .option("--mqtt <url>", "MQTT broker URL for chunk announcements, e.g. mqtt://127.0.0.1:1883 (needs --api and --site)")
  .option("--site <id>", "the camera's site (MQTT topics)")
  .option("--upload-concurrency <n>", `uploads at once, 1..${MAX_UPLOAD_CONCURRENCY}`, String(DEFAULT_UPLOAD_CONCURRENCY))
  .option("--upload-grace <s>", "on SIGTERM, seconds in-flight uploads get to finish", "10")
  .option("--keep-mb <n>", "keep at most this many MB of uploaded chunks on disk, deleting the oldest (default: keep all)")
  .option("--ops-port <n>", "serve /healthz and /metrics on this port (0: any free port)")
  .option("--ops-host <host>", "address of the ops port", "127.0.0.1")
  .parse()
  .opts<{
    camera: string; source: string; data: string; segment: string; realtime?: boolean; loop?: boolean; format: string;
    secretFile?: string; keyFile?: string; rtspTransport: string; api?: string; mqtt?: string; site?: string;
    uploadConcurrency: string; uploadGrace: string; keepMb?: string; opsPort?: string; opsHost: string;
  }>();

const log = createLogger("camera-agent").child({ camera: opts.camera });
const fail: (msg: string, details?: object) => never = (msg, details = {}) => { log.error(details, msg); process.exit(2); };

const readSecret = (file: string) => readFileSync(file).toString("utf8").replace(/\r?\n$/, "");
const fromFiles = [opts.secretFile, opts.keyFile].filter((f): f is string => !!f).map(readSecret);
if (fromFiles.length === 2 && fromFiles[0] !== fromFiles[1]) fail("--secret-file and --key-file hold different secrets");
const secret = fromFiles[0] ?? process.env.FOOTFALL_CAMERA_SECRET ?? process.env.FOOTFALL_CAMERA_KEY;
if (!secret) fail("no camera secret: set FOOTFALL_CAMERA_SECRET or --secret-file");
const key: string = secret;
if (opts.rtspTransport !== "tcp" && opts.rtspTransport !== "udp") fail("--rtsp-transport must be tcp or udp", { rtspTransport: opts.rtspTransport });
const segmentSeconds = Number(opts.segment);
if (!(segmentSeconds > 0 && segmentSeconds <= 3600)) fail("--segment must be seconds, > 0 and ≤ 3600", { value: opts.segment });
if (!["mp4", "mkv", "ts"].includes(opts.format)) fail("--format must be mp4, mkv or ts", { value: opts.format });
const concurrency = Number(opts.uploadConcurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_UPLOAD_CONCURRENCY) fail(`--upload-concurrency must be 1..${MAX_UPLOAD_CONCURRENCY}`, { value: opts.uploadConcurrency });
const graceMs = Number(opts.uploadGrace) * 1000;
if (!Number.isFinite(graceMs) || graceMs < 0) fail("--upload-grace must be seconds ≥ 0", { value: opts.uploadGrace });
const keepBytes = opts.keepMb !== undefined ? Number(opts.keepMb) * 1e6 : undefined;
if (keepBytes !== undefined && !(keepBytes >= 0)) fail("--keep-mb must be a number ≥ 0", { value: opts.keepMb });
if (opts.api && !/^https?:\/\//.test(opts.api)) fail("--api must be an http:// or https:// URL", { api: opts.api });
if (opts.mqtt && (!opts.api || !opts.site)) fail("--mqtt needs --api (chunks are announced once stored) and --site");

const source: VideoSource = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.source)
  ? { kind: "url", url: opts.source, rtspTransport: opts.rtspTransport }
  : { kind: "file", path: opts.source, pace: opts.realtime ? "realtime" : "fast", loop: !!opts.loop };

const ac = abortOnSignal(log);

let firmware: CameraUplink | undefined;
let uploader: Uploader | undefined;
if (opts.api) {
  if (opts.mqtt) {
    firmware = new CameraUplink({
      url: opts.mqtt, deviceId: opts.camera, clientId: `${opts.camera}.chunks`, secret: key, site: opts.site!,
      // heartbeats are not sent by this client: the stream parameters are not needed; its crash
      // must not report the camera offline (the detection process is the camera's voice)
      fps: 0, width: 0, height: 0, will: false, log,
    });
    if (!(await firmware.start())) log.warn({ mqtt: opts.mqtt }, "MQTT broker not reachable yet: announcements wait for it");
  }
  uploader = await Uploader.open({
    camera: opts.camera, secret: key, api: opts.api, dataDir: opts.data, concurrency, log,
    ...(firmware ? { announcer: firmware } : {}),
    ...(keepBytes !== undefined ? { keepBytes } : {}),
  });
}

let recording = true;
let metrics: CameraAgentMetrics | undefined;
let ops: OpsServer | undefined;
if (opts.opsPort !== undefined) {
  const registry = createRegistry("camera-agent");
  metrics = registerCameraAgentMetrics(registry, uploader);
  const up = uploader;
  ops = await startOpsServer({
    host: opts.opsHost, port: Number(opts.opsPort), registry,
    health: () => ({
      ok: true, camera: opts.camera, recording,
      ...(up ? { upload: { queued: up.queued, in_flight: up.inFlight, awaiting_announce: up.awaitingAnnounce, ...up.stats } } : {}),
      ...(firmware ? { mqtt: firmware.online ? "connected" : "disconnected" } : {}),
    }),
  });
  log.info({ ops: `${opts.opsHost}:${ops.port}` }, "ops port listening");
}

const res = await runCameraAgent({
  camera: opts.camera, key, source, dataDir: opts.data, segmentSeconds,
  format: opts.format as ChunkFormat, signal: ac.signal, log,
  onChunk: (meta, file) => {
    log.info({ chunk: meta }, "chunk recorded");
    metrics?.recorded.inc();
    uploader?.enqueue(meta, file);
  },
});
recording = false;
log.info({ reason: res.reason, chunks: res.chunks.length, dropped: res.dropped, next_seq: res.state?.next_seq }, "recording stopped");

if (uploader) {
  if (res.reason === "ended" && !ac.signal.aborted) {
    log.info({ queued: uploader.queued, in_flight: uploader.inFlight }, "source ended: uploading what is left");
    await Promise.race([uploader.drain(), new Promise((r) => ac.signal.addEventListener("abort", r, { once: true }))]);
  }
  await uploader.stop({ graceMs });
}
await firmware?.stop({ graceMs: 2000 });
await ops?.close();
log.info({ reason: res.reason, ...(uploader ? { upload: uploader.stats, failed: uploader.failures().length } : {}) }, "camera agent stopped");
process.exit(res.reason === "failed" ? 1 : 0);
