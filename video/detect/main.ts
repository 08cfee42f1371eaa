/**
 * The camera agent's detection side as a process (`footfall agent detect`): reads a video
 * source, runs the detection loop (video/detect/detect-loop.ts: motion gate, NanoDet person
 * detector, garment colours) and publishes every processed frame as a DetectionFrame over MQTT
 * with the camera's uplink (video/agent/camera-uplink.ts: QoS 1, waiting for PUBACKs with at most
 * --max-in-flight frames unacknowledged), plus status heartbeats every --status-every seconds and
 * a still (a JPEG of the newest frame, video/detect/still-sender.ts) every --still-every seconds
 * of frame time (default 3; 0: none).
 *
 *   FOOTFALL_CAMERA_SECRET=... footfall agent detect --camera cam-1 --site hq \
 *     --mqtt mqtt://127.0.0.1:1883 --source rtsp://10.0.0.5/stream
 *   footfall agent detect --camera cam-1 --site hq --secret-file cam-1.secret \
 *     --source clip.mp4 --realtime --loop --state .data/camera-detect/cam-1.json
 *   footfall agent detect ... --source vtest.avi --start-ms 1795430400000   # simulated time, read fast
 *
 * Frame time: frame_ts = --start-ms (default: now) + the frame's pts; a URL source is anchored on
 * the wall time of its first frame and reconnects when the stream drops. seq continues across
 * restarts when --state names a state file (video/detect/detect-seq.ts), else starts at 0 (with
 * newer frame times, which the contract allows). Heartbeat ts = the newest frame's time.
 * MQTT client id: --client-id, default `{camera}.detect` (the chunk uploader of the same camera
 * uses another one).
 *
 * Stopping: at the end of a (not looped) file, or on SIGINT / SIGTERM: the loop stops, frames in
 * flight get up to 5 s for their PUBACK, the exact next seq is written, {"state":"offline"} is
 * announced and the connection closed. A second signal exits at once.
 * /healthz (--ops-port) answers 503 with `reasons` while the MQTT uplink is not connected and
 * once the detection loop has stopped (while the last frames wait for their PUBACK), else 200.
 * Logs: pino JSON lines on stdout; the last one ("detection stopped") carries the counts and the
 * mean ms per frame of each stage. Exit codes: 0 done, 1 failure (or the broker refused the
 * camera's credentials), 2 bad options or input. Options: detect-options.ts.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { CameraUplink } from "../agent/camera-uplink.ts";
import { readVariable } from "../../infra/config.ts";
import { createLogger } from "../../infra/log.ts";
import { readCaFile } from "../../infra/tls.ts";
import { startOpsServer, type OpsServer } from "../../infra/ops-server.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { Detector } from "../../models/detector.ts";
import { detectFrames } from "./detect-loop.ts";
import { DetectOptionsError, parseDetectMainOptions, type DetectMainOptions, type DetectMainRawOptions } from "./detect-options.ts";
import { registerDetectMetrics } from "./detect-metrics.ts";
import { FramePublisher } from "./detect-publisher.ts";
import { SeqCounter } from "./detect-seq.ts";
import { sourceLocation } from "./detect-source.ts";
import { DetectStats } from "./detect-stats.ts";
import { probeSource, type SourceInfo } from "./frame-sampler.ts";
import { abortOnSignal } from "../../infra/process.ts";
import { MotionGate } from "./motion-gate.ts";
import { StillSender } from "./still-sender.ts";

/** Runs the process until its source ends or a signal stops it; returns the exit code. */
export async function runDetectProcess(raw: DetectMainRawOptions): Promise<number> {
  const log = createLogger("camera-detect");

  let o: DetectMainOptions;
  try {
    o = parseDetectMainOptions(raw);
  } catch (e) {
    if (!(e instanceof DetectOptionsError)) throw e;
    log.error({ reason: e.message }, "bad options");
    return 2;
  }
  const secret = raw.secretFile ? readFileSync(raw.secretFile, "utf8").replace(/\r?\n$/, "") : readVariable("cameraSecret");
  if (!secret) {
    log.error("no camera secret: set FOOTFALL_CAMERA_SECRET or --secret-file");
    return 2;
  }

  // mqtts://: the broker's certificate must verify against --ca / FOOTFALL_TLS_CA (else the system's roots)
  const caFile = raw.ca ?? readVariable("tlsCa");
  let ca: Buffer | undefined;
  if (caFile) {
    try { ca = readCaFile(caFile); } catch (e) {
      log.error({ reason: (e as Error).message }, "bad options: --ca");
      return 2;
    }
  }

  let info: SourceInfo | undefined;
  if (o.source.kind === "file") {
    const file = o.source.path;
    if (!existsSync(file) || !statSync(file).isFile()) {
      log.error({ source: file }, "no such file");
      return 2;
    }
    try {
      info = await probeSource(file);
    } catch (e) {
      log.error({ source: file, err: e }, "cannot read the source");
      return 2;
    }
  }

  const opsPort = raw.opsPort !== undefined ? Number(raw.opsPort) : undefined;
  if (opsPort !== undefined && !(Number.isInteger(opsPort) && opsPort >= 0 && opsPort <= 65535)) {
    log.error({ opsPort: raw.opsPort }, "bad options: --ops-port must be a port number");
    return 2;
  }

  const ac = abortOnSignal(log);

  const startedWall = Date.now();
  const startMs = o.startMs ?? startedWall;
  const stats = new DetectStats();
  const detector = await Detector.create({ intraOpNumThreads: o.threads, scoreThreshold: o.score });
  const seq = await SeqCounter.open(o.camera, o.stateFile);
  const firstSeq = seq.next;
  const fw = new CameraUplink({
    url: o.mqtt, deviceId: o.camera, clientId: o.clientId, secret, site: o.site,
    fps: o.fps ?? 0, width: info?.width ?? 0, height: info?.height ?? 0, log, ...(ca ? { ca } : {}),
  });
  const connected = await fw.start();
  if (!connected && fw.counters.untrusted > 0) {
    // a broker that does not prove who it is gets neither the secret nor the frames
    log.error({ mqtt: o.mqtt, camera: o.camera }, "the broker's TLS certificate does not verify against the trusted CA (--ca / FOOTFALL_TLS_CA)");
    await fw.stop({ graceMs: 500 });
    await detector.close();
    return 1;
  }
  if (!connected && fw.counters.refused > 0) {
    // a refused CONNACK is final for the uplink (no reconnect): wrong secret, or the camera is not registered
    log.error({ mqtt: o.mqtt, camera: o.camera }, "the broker refused the camera's credentials");
    await fw.stop({ graceMs: 500 });
    await detector.close();
    return 1;
  }
  // an unreachable broker is retried in the background; frames wait (at most --max-in-flight of them)
  if (!connected) log.warn({ mqtt: o.mqtt }, "broker not reachable yet; retrying in the background");
  const publisher = new FramePublisher(fw, o.maxInFlight, log);
  const stills = o.stillEveryMs > 0 ? new StillSender({ uplink: fw, everyMs: o.stillEveryMs, log }) : undefined;

  let running = true;
  let reason: "end" | "signal" | "failed" = "end"; // why the loop stopped, once it has
  let ops: OpsServer | undefined;
  if (opsPort !== undefined) {
    const registry = createRegistry("camera-detect");
    registerDetectMetrics(registry, stats, publisher, stills);
    ops = await startOpsServer({
      host: raw.opsHost ?? "127.0.0.1", port: opsPort, registry,
      health: () => {
        const reasons = [...(running ? [] : [`detection loop stopped (${reason})`]), ...(fw.online ? [] : ["MQTT uplink disconnected"])];
        return {
          ok: reasons.length === 0, camera: o.camera, running, mqtt: fw.online ? "connected" : "disconnected",
          ...(reasons.length ? { reasons } : {}),
          processed: stats.processed, in_flight: publisher.pending, last_frame_ts: stats.lastFrameTs ?? null,
        };
      },
    });
    log.info({ ops: `${raw.opsHost ?? "127.0.0.1"}:${ops.port}` }, "ops port listening");
  }

  let size: { width: number; height: number } | undefined = info ? { width: info.width, height: info.height } : undefined;
  const heartbeat = () => {
    fw.publishStatus({
      state: "online",
      ts: stats.lastFrameTs ?? startMs + (Date.now() - startedWall),
      ...(o.fps !== undefined ? { fps: o.fps } : {}),
      ...(size ? size : {}),
      uptime_s: Math.round((Date.now() - startedWall) / 100) / 10,
    });
  };
  heartbeat();
  const beat = setInterval(heartbeat, o.statusEveryMs);

  log.info({
    camera: o.camera, site: o.site, source: sourceLocation(o.source), start_ms: startMs, first_seq: firstSeq,
    fps: o.fps, every: o.every, motion: o.motion, threads: o.threads, score: o.score,
  }, "detection started");

  let lastProgress = Date.now();
  try {
    for await (const f of detectFrames({
      camera: o.camera, source: o.source, detector, startMs, seq, stats, log, signal: ac.signal,
      ...(info ? { info } : {}),
      ...(o.fps !== undefined ? { fps: o.fps } : {}),
      ...(o.every !== undefined ? { every: o.every } : {}),
      ...(o.startS !== undefined ? { startS: o.startS } : {}),
      ...(o.durationS !== undefined ? { durationS: o.durationS } : {}),
      ...(o.motion ? { gate: new MotionGate({ threshold: o.motion.threshold, maxSkip: o.motion.maxSkip }) } : {}),
      ...(stills ? { onSampled: (frame, ts) => stills.offer(frame, ts) } : {}),
    })) {
      size = { width: f.width, height: f.height };
      if (!(await publisher.publish(f.frame, ac.signal))) {
        log.warn({ seq: f.frame.seq, in_flight: publisher.pending }, "stopping while the broker holds back acknowledgements: frame not published");
        break;
      }
      if (Date.now() - lastProgress >= 10_000) {
        lastProgress = Date.now();
        log.info({ ...stats.summary(), acked: publisher.counters.acked, frame_ts: f.frame.frame_ts }, "progress");
      }
    }
    if (ac.signal.aborted) reason = "signal";
  } catch (e) {
    reason = "failed";
    log.error({ err: e }, "detection failed");
  }

  running = false;
  clearInterval(beat);
  const drained = await publisher.drain(5000);
  if (!drained) log.warn({ pending: publisher.pending }, "frames still unacknowledged at the stop");
  if (stills && !(await stills.drain(2000))) log.warn("the last still was not acknowledged by the stop");
  heartbeat();
  await seq.close().catch((err: unknown) => log.error({ err }, "cannot write the frame counter state"));
  await fw.stop({ graceMs: 2000, announceOffline: true });
  await detector.close();
  await ops?.close();
  log.info({
    reason, ...stats.summary(), published: publisher.counters.acked, sent: publisher.counters.sent, failed: publisher.counters.failed,
    ...(stills ? { stills: stills.counters } : {}),
    first_seq: firstSeq, next_seq: seq.next, last_frame_ts: stats.lastFrameTs ?? null,
  }, "detection stopped");
  return reason === "failed" ? 1 : 0;
}
