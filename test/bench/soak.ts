/**
 * Soak benchmark (a script, not a test): a three-node cluster in network namespaces (needs root),
 * DPU crossings and smart cameras' detection frames published at a steady rate for an hour, spread
 * over the three brokers. Every minute the resident memory (RSS) of every process is sampled and
 * printed, with the messages the actors handled per second by kind and the messages waiting in
 * their mailboxes; at the end every space's count must equal the distinct crossings sent to it, and
 * the camera actors' per-second aggregates (camera_stats) must add up to exactly the frames and
 * detections sent (fewer = lost or still waiting, more = doubled). Each process's RSS growth from
 * the first sample after warm-up to the last is reported.
 *
 *   npx tsx test/bench/soak.ts [--minutes 60] [--rate 500] [--dpus 60]
 *                              [--detection-rate 1000] [--cameras 10] [--people 10] [--warmup-min 5]
 *                              [--late-horizon-h h] [--profile dir]
 *
 * The two loads share the machine: choose them so that together they are half of what the
 * three-node cluster keeps up with there (the actors' handled/s equal to what is sent, nothing
 * piling up in the mailboxes). Three nodes on one machine take in far less than one node: every
 * message is stored by three nats-servers. Exits 1 when anything was lost or doubled.
 */
import fs from "node:fs";
import { Command } from "commander";
import mqtt from "mqtt";
import { deviceTopic } from "../../contracts/topics.ts";
import { influxClient } from "../../infra/provision.ts";
import { metricSamples } from "../support/metrics-text.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { HOST_OPS_PORT, startClusterLab } from "../chaos/cluster-lab.ts";
import { patchCameras, patchFrame, patchTopology } from "./camera-patches.ts";
import { benchDpus, dpuTopology, lostAndDoubled } from "./dpu-site.ts";

const opts = new Command()
  .option("--minutes <n>", "how long to publish", "60")
  .option("--rate <n>", "crossings per second (all DPUs together)", "500")
  .option("--dpus <n>", "simulated DPUs", "60")
  .option("--detection-rate <n>", "detections per second (all cameras together; 0: no cameras)", "1000")
  .option("--cameras <n>", "simulated smart cameras", "10")
  .option("--people <n>", "people in each camera's view (= detections per frame)", "10")
  .option("--warmup-min <n>", "minutes before the memory baseline is taken", "5")
  .option("--late-horizon-h <h>", "the actors' late horizon (FOOTFALL_LATE_HORIZON_H): doorways and spaces keep this much event time in memory, so their memory grows for this long and is flat after; default: the product's")
  .option("--profile <dir>", "write V8 CPU profiles of the brokers and actor hosts into this folder")
  .parse()
  .opts<{ minutes: string; rate: string; dpus: string; detectionRate: string; cameras: string; people: string; warmupMin: string; lateHorizonH?: string; profile?: string }>();
const MINUTES = Number(opts.minutes), RATE = Number(opts.rate), DPUS = Number(opts.dpus), WARMUP = Number(opts.warmupMin);
const DET_RATE = Number(opts.detectionRate), CAMERAS = DET_RATE > 0 ? Number(opts.cameras) : 0, PEOPLE = Number(opts.people);
const FPS = CAMERAS > 0 ? DET_RATE / (CAMERAS * PEOPLE) : 0;
const SITE = "soak";

if (!(await canMakeNamespaces())) {
  console.error("soak bench: needs root and iproute2 (network namespaces)");
  process.exit(2);
}

/** resident memory of a process in MiB (undefined when it is gone) */
function rssMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

interface ActorProgress {
  handled: Record<string, number>;
  waiting: number;
  /** partitions dropped so far, by cause */
  dropped: Record<string, number>;
  /** lease renewals so far: count, and how many took longer than 1 s */
  renewals: number;
  slowRenewals: number;
  /** each actor host's V8 heap in use (MiB), as its /metrics says */
  heapMiB: number[];
  at: number;
}

/** Every actor host's messages handled so far by kind, what waits in their partitions, partitions dropped, lease renewals (from /metrics). */
async function actorProgress(ips: string[]): Promise<ActorProgress> {
  const p: ActorProgress = { handled: {}, waiting: 0, dropped: {}, renewals: 0, slowRenewals: 0, heapMiB: [], at: performance.now() };
  const add = (to: Record<string, number>, k: string, v: number) => { to[k] = (to[k] ?? 0) + v; };
  for (const ip of ips) {
    for (const m of await metricSamples(`http://${ip}:${HOST_OPS_PORT}/metrics`).catch(() => [])) {
      if (m.name === "footfall_actor_messages_total" && m.labels.kind) add(p.handled, m.labels.kind, m.value);
      else if (m.name === "footfall_actor_mailbox_depth") p.waiting += m.value;
      else if (m.name === "footfall_actor_partitions_dropped_total" && m.labels.cause) add(p.dropped, m.labels.cause, m.value);
      else if (m.name === "footfall_actor_lease_renewal_seconds_count") p.renewals += m.value;
      else if (m.name === "footfall_actor_lease_renewal_seconds_bucket" && m.labels.le === "1") p.slowRenewals -= m.value;
      else if (m.name === "nodejs_heap_size_used_bytes") p.heapMiB.push(Math.round(m.value / 2 ** 20));
    }
  }
  p.slowRenewals += p.renewals;
  return p;
}

const lab = await startClusterLab({
  ...(opts.lateHorizonH ? { overrides: { lateHorizonHours: Number(opts.lateHorizonH) } } : {}),
  ...(opts.profile ? { profileDir: opts.profile } : {}),
});
let exitCode = 0;
try {
  const dpus = benchDpus(DPUS, "soak");
  const cams = patchCameras(CAMERAS, "soak");
  const dpuDoc = dpuTopology(dpus), camDoc = patchTopology(cams);
  const put = await lab.admin("PUT", `/api/v1/sites/${SITE}/topology`, {
    spaces: [...dpuDoc.spaces, ...camDoc.spaces], doorways: dpuDoc.doorways, devices: [...dpuDoc.devices, ...camDoc.devices],
  });
  if (put.status !== 200) throw new Error(`topology: ${put.status} ${await put.text()}`);
  await new Promise((r) => setTimeout(r, 1000));
  const connect = (d: { id: string; secret: string }, i: number) => new Promise<mqtt.MqttClient>((resolve, reject) => {
    const c = mqtt.connect(lab.mqttUrls[i % lab.mqttUrls.length]!, { clientId: d.id, username: d.id, password: d.secret, clean: true, reconnectPeriod: 500 });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
  const clients = await Promise.all(dpus.map(connect));
  const camClients = await Promise.all(cams.map(connect));

  const procs = [
    ...lab.machines.flatMap((m) => [
      { name: `nats@${m.node.name}`, pid: () => m.nats.server.proc.child.pid },
      ...[m.broker, m.host].map((p) => ({ name: `${p.kind}@${m.node.name}`, pid: () => p.pid })),
    ]),
    { name: "influxd", pid: () => lab.services.influxd?.proc.child.pid },
    { name: "api+load", pid: () => process.pid },
  ];
  const samples: Array<Record<string, number | undefined>> = [];
  let lastProgress: ActorProgress | undefined;
  const sample = async (minute: number) => {
    const row = Object.fromEntries(procs.map((p) => [p.name, rssMiB(p.pid())]));
    samples.push(row);
    console.log(`minute ${String(minute).padStart(3)}  RSS MiB  ${procs.map((p) => `${p.name} ${row[p.name] ?? "-"}`).join("  ")}`);
    // how far the actors have got: messages handled per kind in the last minute, and what waits
    // (not for the closing sample, taken moments after the last minute's)
    if (lastProgress && performance.now() - lastProgress.at < 30_000) return;
    const now = await actorProgress(lab.machines.map((m) => m.node.ip));
    const per = (kind: string) => now.handled[kind] === undefined ? "-" : String(Math.round((now.handled[kind]! - (lastProgress?.handled[kind] ?? 0)) / 60));
    console.log(`minute ${String(minute).padStart(3)}  actors  handled/s doorway ${per("doorway")} space ${per("space")} camera ${per("camera")}` +
      `  waiting in mailboxes ${now.waiting}  (sent/s crossings ${RATE}, frames ${Math.round(FPS * CAMERAS)})`);
    const dropped = Object.entries(now.dropped).map(([cause, n]) => [cause, n - (lastProgress?.dropped[cause] ?? 0)] as const).filter(([, n]) => n > 0);
    const renewals = now.renewals - (lastProgress?.renewals ?? 0), slow = now.slowRenewals - (lastProgress?.slowRenewals ?? 0);
    console.log(`minute ${String(minute).padStart(3)}  leases  renewals ${renewals}, over 1 s ${slow}; partitions dropped ${dropped.length ? dropped.map(([c, n]) => `${c} ${n}`).join(", ") : "0"}; hosts' heap in use MiB ${now.heapMiB.join(" / ")}`);
    lastProgress = now;
  };

  const sentPer = dpus.map(() => 0);
  const lastTs = dpus.map(() => 0);
  let sent = 0, acked = 0;
  const seqs = cams.map(() => 0);
  let framesSent = 0, framesAcked = 0;
  const start = Date.now();
  const total = RATE * MINUTES * 60;
  const totalFrames = Math.round(FPS * MINUTES * 60) * CAMERAS;
  await sample(0);
  let nextSample = start + 60_000;
  await new Promise<void>((resolve) => {
    let k = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      const due = Math.min(total, Math.floor(((now - start) / 1000) * RATE));
      while (sent < due) {
        const i = k++ % DPUS;
        const d = dpus[i]!;
        const ts = Math.max(now, lastTs[i]! + 1);
        lastTs[i] = ts;
        sentPer[i]!++;
        sent++;
        clients[i]!.publish(deviceTopic(SITE, "dpu", d.id, "crossing"), JSON.stringify({ id: `s${sentPer[i]}`, ts, doorway: d.doorway, delta: 1 }), { qos: 1 }, (err) => { if (!err) acked++; });
      }
      const framesDue = Math.min(totalFrames, Math.floor(((now - start) / 1000) * FPS * CAMERAS));
      while (framesSent < framesDue) {
        const k = framesSent % CAMERAS;
        const cam = cams[k]!;
        const seq = ++seqs[k]!;
        framesSent++;
        const frame = patchFrame(cam, seq, start + Math.round((seq * 1000) / FPS), start, PEOPLE);
        camClients[k]!.publish(deviceTopic(SITE, "camera", cam.id, "detections"), JSON.stringify(frame), { qos: 1 }, (err) => { if (!err) framesAcked++; });
      }
      if (now >= nextSample) { void sample(Math.round((now - start) / 60_000)); nextSample += 60_000; }
      if (sent >= total && framesSent >= totalFrames) { clearInterval(timer); resolve(); }
    }, 10);
  });
  const deadline = Date.now() + 300_000;
  while ((acked < sent || framesAcked < framesSent) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await sample(Math.round((Date.now() - start) / 60_000));

  const influx = influxClient(lab.services.influxUrl, lab.cfg.influxDb);
  let lost = 0, doubled = 0;
  const settle = Date.now() + 120_000;
  for (;;) {
    ({ lost, doubled } = await lostAndDoubled(influx, SITE, dpus, sentPer));
    if ((lost === 0 && doubled === 0) || Date.now() > settle) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  // frames: the camera actors' per-second aggregates against what was sent (settled: unchanged for 4 s)
  let counted = { frames: 0, detections: 0 };
  const framesSettle = Date.now() + 120_000;
  for (let same = 0; CAMERAS > 0 && same < 2 && Date.now() < framesSettle;) {
    await new Promise((r) => setTimeout(r, 2000));
    const rows = await influx.query<{ frames: number; detections: number }>(`SELECT sum("frames") AS frames, sum("detections") AS detections FROM "camera_stats" WHERE "site" = '${SITE}'`);
    const r = rows[0] as { frames: number; detections: number } | undefined;
    const now = { frames: r?.frames ?? 0, detections: r?.detections ?? 0 };
    same = now.frames >= framesSent && now.frames === counted.frames && now.detections === counted.detections ? same + 1 : 0;
    counted = now;
  }
  const frames = {
    sent: framesSent, acked: framesAcked,
    lost: Math.max(0, framesSent - counted.frames), doubled: Math.max(0, counted.frames - framesSent),
    lost_detections: Math.max(0, framesSent * PEOPLE - counted.detections), doubled_detections: Math.max(0, counted.detections - framesSent * PEOPLE),
  };
  for (const c of [...clients, ...camClients]) c.end(true);

  const base = samples[Math.min(WARMUP, samples.length - 1)]!;
  const last = samples[samples.length - 1]!;
  const growth = Object.fromEntries(procs.map((p) => {
    const a = base[p.name], b = last[p.name];
    const after = samples.slice(WARMUP).map((row) => row[p.name]).filter((v): v is number => v !== undefined);
    return [p.name, a && b ? { from_mib: a, to_mib: b, growth_pct: Math.round(((b - a) / a) * 1000) / 10, min_mib: Math.min(...after), max_mib: Math.max(...after) } : null];
  }));
  const end = await actorProgress(lab.machines.map((m) => m.node.ip));
  console.log(JSON.stringify({
    minutes: MINUTES, crossings_per_s: RATE, detections_per_s: DET_RATE, cameras: CAMERAS, fps_per_camera: Number(FPS.toFixed(2)),
    crossings: { sent, acked, lost, doubled }, frames,
    // messages the actors had not handled yet when the counts were taken: "lost" includes them
    waiting_in_mailboxes_at_end: end.waiting,
    // over the run, hosts restarted by nobody: every drop is a replay from a checkpoint
    partitions_dropped: end.dropped, lease_renewals: { total: end.renewals, over_1s: end.slowRenewals },
    rss_after_warmup: growth,
  }, null, 2));
  const clean = lost === 0 && doubled === 0 && frames.lost + frames.doubled + frames.lost_detections + frames.doubled_detections === 0;
  exitCode = clean ? 0 : 1;
} finally {
  await lab.stop();
}
process.exit(exitCode);
