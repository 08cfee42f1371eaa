/**
 * Detections benchmark (a script, not a test): simulated smart cameras → aedes broker → JetStream
 * → camera actors (tracking) → linker → person-track and zone actors → InfluxDB. Prints
 * detections/s sustained, latency from publish to the frame's track.update event (p50/p99),
 * and lost / doubled frames and detections.
 *
 *   npx tsx test/bench/detections.ts [--cameras 20] [--people 20] [--rate 10000] [--seconds 30] [--hosts 1] [--dup 0.02]
 *
 * Every camera looks at its own 20 m x 12 m patch of floor (calibrated with a known homography)
 * where `--people` people walk back and forth; each frame carries one detection per person
 * (batching per frame, as a smart camera does), frames are paced in real time at
 * rate / (cameras x people) frames/s per camera, and a share is deliberately sent twice.
 * At the end the camera actors' per-second aggregates (camera_stats) must add up to exactly the
 * distinct frames and detections sent: fewer = lost, more = doubled.
 */
import os from "node:os";
import { Command } from "commander";
import mqtt from "mqtt";
import hdr from "hdr-histogram-js";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import type { TrackUpdate } from "../../contracts/events.ts";
import type { DetectionFrameIn } from "../../contracts/detection.ts";
import type { Point } from "../../contracts/geometry.ts";
import { applyHomography, invertHomography } from "../../topology/geometry/homography.ts";
import { startBenchStack } from "./bench-stack.ts";
import { cpuSeconds } from "./proc-cpu.ts";

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const opts = new Command()
  .option("--cameras <n>", "simulated cameras", "20")
  .option("--people <n>", "people in each camera's view (= detections per frame)", "20")
  .option("--rate <n>", "target detections per second (all cameras together)", "10000")
  .option("--seconds <n>", "how long to publish", "30")
  .option("--hosts <n>", "actor host processes", "1")
  .option("--dup <rate>", "share of frames sent twice", "0.02")
  .option("--profile <dir>", "write V8 CPU profiles of the broker and actor host processes into this folder")
  .parse()
  .opts<{ cameras: string; people: string; rate: string; seconds: string; hosts: string; dup: string; profile?: string }>();
const CAMERAS = Number(opts.cameras), PEOPLE = Number(opts.people), RATE = Number(opts.rate), SECONDS = Number(opts.seconds);
const HOSTS = Number(opts.hosts), DUP = Number(opts.dup);
const FPS = RATE / (CAMERAS * PEOPLE);
const SITE = "bench-cams";

// image 1280x720 looking at floor x 0..20, y 0..12 (a mild perspective)
const IMAGE: Point[] = [[0, 720], [1280, 720], [1080, 80], [200, 80], [640, 400], [320, 600]];
const FLOOR_OF = { h: [0.0173, 0.0041, -2.1, 0.0002, -0.0206, 15.2, 0.00001, 0.00032, 1] };
const floorPoints = IMAGE.map((p) => applyHomography(FLOOR_OF, p)!);
const toImage = invertHomography(FLOOR_OF);

const bench = await startBenchStack({ hosts: HOSTS, profileDir: opts.profile });
const cfg = bench.cfg;
const api = { port: bench.apiPort };

const cams = Array.from({ length: CAMERAS }, (_, i) => ({ id: `bench-cam-${i}`, secret: `bench-cam-secret-${i}`, space: `patch-${i}` }));
const put = await fetch(`http://127.0.0.1:${api.port}/api/v1/sites/${SITE}/topology`, {
  method: "PUT", headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
  body: JSON.stringify({
    // each camera's patch lies beside the previous one: patch i spans x in [25 i, 25 i + 20]
    spaces: cams.map((c, i) => ({ id: c.space, name: c.space, polygon: [[25 * i - 1, -1], [25 * i + 21, -1], [25 * i + 21, 13], [25 * i - 1, 13]] })),
    doorways: [],
    devices: cams.map((c, i) => ({
      id: c.id, kind: "camera", secret: c.secret, sees: [c.space],
      calibration: { image_points: IMAGE, floor_points: floorPoints.map(([x, y]) => [x + 25 * i, y]) },
    })),
  }),
});
if (put.status !== 200) throw new Error(`topology import failed: ${put.status} ${await put.text()}`);
await new Promise((r) => setTimeout(r, 500));

/** Person k of a camera walks back and forth along its own lane at 1.2 m/s. */
function boxOf(k: number, t: number): [number, number, number, number] {
  const lane = 1 + (10 * (k + 0.5)) / PEOPLE;
  const phase = ((t / 1000) * 1.2 + k * 3.1) % 30;
  const x = 2 + (phase < 15 ? phase : 30 - phase);
  const feet = applyHomography(toImage, [x, lane])!;
  const h = 180 * (0.4 + feet[1] / 720);
  const w = h * 0.4;
  return [feet[0] - w / 2, feet[1] - h, feet[0] + w / 2, feet[1]];
}

const sentAt = new Map<string, number>();
const e2e = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
let updates = 0, lastUpdateAt = 0;
const nc = await connectNats(cfg.natsUrl!, "detections");
const sub = nc.subscribe(`evt.track.${SITE}.>`);
(async () => {
  for await (const m of sub) {
    const ev = m.json<TrackUpdate>();
    const key = `${ev.camera}:${ev.seq}`;
    const at = sentAt.get(key);
    if (at === undefined) continue;
    sentAt.delete(key);
    e2e.recordValue(Math.max(1, Date.now() - at));
    updates++;
    lastUpdateAt = Date.now();
  }
})().catch(() => {});

const clients = await Promise.all(cams.map((c) => new Promise<mqtt.MqttClient>((resolve, reject) => {
  const cl = mqtt.connect(`mqtt://127.0.0.1:${cfg.mqttPort}`, { clientId: c.id, username: c.id, password: c.secret, clean: true, reconnectPeriod: 500 });
  cl.once("connect", () => resolve(cl));
  cl.once("error", reject);
})));

const cpuStart = { broker: cpuSeconds(bench.pids.broker), hosts: sumOf(bench.pids.hosts.map(cpuSeconds)) };
const seqs = cams.map(() => 0);
let framesSent = 0, detectionsSent = 0, dupsSent = 0, acked = 0;
const ackLat = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
const start = Date.now();
const totalFrames = Math.round(FPS * SECONDS) * CAMERAS;
console.error(`publishing ${totalFrames} frames (${totalFrames * PEOPLE} detections) from ${CAMERAS} cameras at ${FPS.toFixed(1)} fps each, ${PEOPLE} detections per frame ...`);
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const due = Math.min(totalFrames, Math.floor(((Date.now() - start) / 1000) * FPS * CAMERAS));
    while (framesSent < due) {
      const k = framesSent % CAMERAS;
      const cam = cams[k]!;
      const seq = ++seqs[k]!;
      const ts = start + Math.round((seq * 1000) / FPS);
      const frame: DetectionFrameIn = {
        frame_ts: ts, seq,
        detections: Array.from({ length: PEOPLE }, (_, p) => ({
          oid: `${cam.id}-${seq}-${p}`, cls: "person", score: 0.6 + ((p * 7 + seq) % 30) / 100, box: boxOf(p, ts - start),
          attrs: { upper: { value: p % 5 === 0 ? "blue" : "red", conf: 0.8 }, lower: { value: "black", conf: 0.7 } },
        })),
      };
      const payload = JSON.stringify(frame);
      const t0 = Date.now();
      sentAt.set(`${cam.id}:${seq}`, t0);
      framesSent++;
      detectionsSent += PEOPLE;
      const topic = deviceTopic(SITE, "camera", cam.id, "detections");
      clients[k]!.publish(topic, payload, { qos: 1 }, () => { acked++; ackLat.recordValue(Math.max(1, Date.now() - t0)); });
      if (Math.random() < DUP) { dupsSent++; clients[k]!.publish(topic, payload, { qos: 1 }); }
    }
    if (framesSent >= totalFrames) { clearInterval(timer); resolve(); }
  }, 10);
});
const publishEnd = Date.now();
const deadline = Date.now() + 120_000;
while (updates < framesSent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
const endSeconds = ((lastUpdateAt || Date.now()) - start) / 1000;
const cpuEnd = { broker: cpuSeconds(bench.pids.broker), hosts: sumOf(bench.pids.hosts.map(cpuSeconds)) };
const per10k = (s: number) => Math.round((s / Math.max(1, detectionsSent)) * 10_000 * 1000) / 1000;

// lost / doubled: the camera actors' per-second aggregates against what was sent
const influx = influxClient(cfg.influxUrl!, cfg.influxDb);
let counted = { frames: 0, detections: 0 };
for (let i = 0; i < 50; i++) {
  await new Promise((r) => setTimeout(r, 500));
  const rows = await influx.query<{ frames: number; detections: number }>(`SELECT sum("frames") AS frames, sum("detections") AS detections FROM "camera_stats" WHERE "site" = '${SITE}'`);
  const r = rows[0] as { frames: number; detections: number } | undefined;
  const now = { frames: r?.frames ?? 0, detections: r?.detections ?? 0 };
  if (now.frames === counted.frames && now.frames >= framesSent) break;
  counted = now;
}
const persons = await influx.query<{ n: number }>(`SELECT count("distance_m") AS n FROM "person" WHERE "site" = '${SITE}'`);

const fig = {
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  cameras: CAMERAS, detections_per_frame: PEOPLE, fps_per_camera: Number(FPS.toFixed(2)), hosts: HOSTS, target_detections_per_s: RATE,
  frames_sent: framesSent, detections_sent: detectionsSent, duplicate_frames_sent: dupsSent, acked,
  publish_detections_per_s: Math.round(detectionsSent / ((publishEnd - start) / 1000)),
  sustained_detections_per_s: Math.round((updates * PEOPLE) / endSeconds),
  puback_ms: { p50: ackLat.getValueAtPercentile(50), p99: ackLat.getValueAtPercentile(99) },
  publish_to_track_update_ms: { p50: e2e.getValueAtPercentile(50), p99: e2e.getValueAtPercentile(99), max: e2e.maxValue },
  frames_counted: counted.frames, detections_counted: counted.detections,
  lost_frames: Math.max(0, framesSent - counted.frames), doubled_frames: Math.max(0, counted.frames - framesSent),
  lost_detections: Math.max(0, detectionsSent - counted.detections), doubled_detections: Math.max(0, counted.detections - detectionsSent),
  person_tracks: (persons[0] as { n?: number } | undefined)?.n ?? 0,
  /** CPU seconds (user + system) per 10,000 detections sent, from the first publish to the last track update */
  cpu_s_per_10k_detections: { broker: per10k(cpuEnd.broker - cpuStart.broker), hosts: per10k(cpuEnd.hosts - cpuStart.hosts) },
};
console.log(JSON.stringify(fig, null, 2));

for (const c of clients) c.end(true);
sub.unsubscribe();
await nc.close();
await bench.stop();
process.exit(fig.lost_frames === 0 && fig.doubled_frames === 0 ? 0 : 1);
