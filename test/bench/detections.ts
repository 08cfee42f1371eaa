/**
 * Detections benchmark (a script, not a test): simulated smart cameras → aedes broker → JetStream
 * → camera actors (tracking) → linker → person-track and zone actors → InfluxDB. Prints
 * detections/s sustained, latency from publish to the frame's track.update event (p50/p99),
 * and lost / doubled frames and detections.
 *
 *   npx tsx test/bench/detections.ts [--cameras 20] [--people 20] [--rate 10000] [--seconds 30] [--hosts 1] [--dup 0.02]
 *
 * Every camera looks at its own patch of floor where `--people` people walk back and forth
 * (camera-patches.ts); each frame carries one detection per person, frames are paced in real time at
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
import { startBenchStack } from "./bench-stack.ts";
import { patchCameras, patchFrame, patchTopology } from "./camera-patches.ts";
import { cpuPer10k, stackCpu } from "./proc-cpu.ts";


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

const bench = await startBenchStack({ hosts: HOSTS, profileDir: opts.profile });
const cfg = bench.cfg;
const api = { port: bench.apiPort };

const cams = patchCameras(CAMERAS);
const put = await fetch(`http://127.0.0.1:${api.port}/api/v1/sites/${SITE}/topology`, {
  method: "PUT", headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
  body: JSON.stringify({ ...patchTopology(cams), doorways: [] }),
});
if (put.status !== 200) throw new Error(`topology import failed: ${put.status} ${await put.text()}`);
await new Promise((r) => setTimeout(r, 500));

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

const cpuStart = stackCpu(bench.pids);
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
      const frame = patchFrame(cam, seq, ts, start, PEOPLE);
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
const cpuEnd = stackCpu(bench.pids);

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
  cpu_s_per_10k_detections: cpuPer10k(cpuStart, cpuEnd, detectionsSent),
};
console.log(JSON.stringify(fig, null, 2));

for (const c of clients) c.end(true);
sub.unsubscribe();
await nc.close();
await bench.stop();
process.exit(fig.lost_frames === 0 && fig.doubled_frames === 0 ? 0 : 1);
