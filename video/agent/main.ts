/**
 * The camera agent as a process (`footfall agent`): cuts a camera's video source into signed
 * chunks in a data folder and resumes where it stopped after a restart; with --api it also uploads
 * every recorded chunk to the chunk store (uploader.ts), and with --mqtt announces each stored
 * chunk on footfall/v1/{site}/camera/{id}/chunk (MQTT client id "{camera}.chunks").
 *
 *   footfall agent --camera cam-1 --source rtsp://10.0.0.5/stream --data .data/video-agent/cam-1
 *   footfall agent --camera cam-1 --source clip.mp4 --realtime --loop --segment 2 \
 *     --api http://127.0.0.1:8080 --mqtt mqtt://127.0.0.1:1883 --site mall --ops-port 9464
 *
 * Options: agent-options.ts; the data folder defaults to {FOOTFALL_DATA_DIR}/agent/{camera}.
 * The camera's device secret (MQTT password, HTTP Basic password and the chunk signing key) comes
 * from --secret-file (raw bytes of the file, trailing newline removed) or FOOTFALL_CAMERA_SECRET.
 *
 * SIGINT / SIGTERM: the segmenter stops, in-flight uploads get --upload-grace seconds to finish,
 * the upload ledger is written, MQTT disconnects cleanly. A second signal exits at once. When a
 * file source ends by itself, the agent first uploads everything recorded, then exits.
 * /healthz (--ops-port) answers 503 with `reasons` while the MQTT uplink (--mqtt) is not
 * connected and once recording has stopped (the source ended or ffmpeg failed; the process may
 * still be uploading), else 200.
 * Exit codes: 0 done, 1 recording failed, 2 bad options.
 */
import { CameraUplink } from "./camera-uplink.ts";
import { createLogger } from "../../infra/log.ts";
import { startOpsServer, type OpsServer } from "../../infra/ops-server.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { runCameraAgent } from "./agent.ts";
import { AgentOptionsError, parseAgentOptions, type AgentOptions, type AgentRawOptions } from "./agent-options.ts";
import { registerCameraAgentMetrics, type CameraAgentMetrics } from "./upload-metrics.ts";
import { abortOnSignal } from "../../infra/process.ts";
import { Uploader } from "./uploader.ts";

/** Runs the process until its source ends or a signal stops it; returns the exit code. `dataRoot`: FOOTFALL_DATA_DIR. */
export async function runCameraAgentProcess(raw: AgentRawOptions, dataRoot: () => string): Promise<number> {
  const log = createLogger("camera-agent").child({ camera: raw.camera });
  let o: AgentOptions;
  try {
    o = parseAgentOptions(raw, dataRoot);
  } catch (e) {
    if (!(e instanceof AgentOptionsError)) throw e;
    log.error(e.details, e.message);
    return 2;
  }

  const ac = abortOnSignal(log);

  let firmware: CameraUplink | undefined;
  let uploader: Uploader | undefined;
  if (o.api) {
    if (o.mqtt) {
      firmware = new CameraUplink({
        url: o.mqtt.url, deviceId: o.camera, clientId: `${o.camera}.chunks`, secret: o.secret, site: o.mqtt.site,
        // heartbeats are not sent by this client: the stream parameters are not needed; its crash
        // must not report the camera offline (the detection process is the camera's voice)
        fps: 0, width: 0, height: 0, will: false, log, ...(o.ca ? { ca: o.ca } : {}),
      });
      if (!(await firmware.start())) {
        if (firmware.counters.untrusted > 0) {
          // a server that does not prove who it is gets neither the secret nor the video
          log.error({ mqtt: o.mqtt.url }, "the broker's TLS certificate does not verify against the trusted CA (--ca / FOOTFALL_TLS_CA)");
          await firmware.stop({ graceMs: 500 });
          return 1;
        }
        log.warn({ mqtt: o.mqtt.url }, "MQTT broker not reachable yet: announcements wait for it");
      }
    }
    uploader = await Uploader.open({
      camera: o.camera, secret: o.secret, api: o.api, dataDir: o.dataDir, concurrency: o.concurrency, log, ...(o.ca ? { ca: o.ca } : {}),
      ...(firmware ? { announcer: firmware } : {}),
      ...(o.keepBytes !== undefined ? { keepBytes: o.keepBytes } : {}),
    });
  }

  let stopped: string | undefined; // why recording stopped, once it has
  let metrics: CameraAgentMetrics | undefined;
  let ops: OpsServer | undefined;
  if (o.ops) {
    const registry = createRegistry("camera-agent");
    metrics = registerCameraAgentMetrics(registry, uploader);
    const up = uploader;
    ops = await startOpsServer({
      host: o.ops.host, port: o.ops.port, registry,
      health: () => {
        const mqttDown = firmware !== undefined && !firmware.online;
        const reasons = [...(stopped ? [`recording stopped (${stopped})`] : []), ...(mqttDown ? ["MQTT uplink disconnected"] : [])];
        return {
          ok: reasons.length === 0, camera: o.camera, recording: stopped === undefined,
          ...(reasons.length ? { reasons } : {}),
          ...(up ? { upload: { queued: up.queued, in_flight: up.inFlight, awaiting_announce: up.awaitingAnnounce, ...up.stats } } : {}),
          ...(firmware ? { mqtt: mqttDown ? "disconnected" : "connected" } : {}),
        };
      },
    });
    log.info({ ops: `${o.ops.host}:${ops.port}` }, "ops port listening");
  }

  const res = await runCameraAgent({
    camera: o.camera, key: o.secret, source: o.source, dataDir: o.dataDir, segmentSeconds: o.segmentSeconds,
    format: o.format, signal: ac.signal, log,
    onChunk: (meta, file) => {
      log.info({ chunk: meta }, "chunk recorded");
      metrics?.recorded.inc();
      uploader?.enqueue(meta, file);
    },
  });
  stopped = res.reason;
  log.info({ reason: res.reason, chunks: res.chunks.length, dropped: res.dropped, next_seq: res.state?.next_seq }, "recording stopped");

  if (uploader) {
    if (res.reason === "ended" && !ac.signal.aborted) {
      log.info({ queued: uploader.queued, in_flight: uploader.inFlight }, "source ended: uploading what is left");
      await Promise.race([uploader.drain(), new Promise((r) => ac.signal.addEventListener("abort", r, { once: true }))]);
    }
    await uploader.stop({ graceMs: o.graceMs });
  }
  await firmware?.stop({ graceMs: 2000 });
  await ops?.close();
  log.info({ reason: res.reason, ...(uploader ? { upload: uploader.stats, failed: uploader.failures().length } : {}) }, "camera agent stopped");
  return res.reason === "failed" ? 1 : 0;
}
