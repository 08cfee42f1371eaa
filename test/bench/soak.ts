/**
 * Soak benchmark (a script, not a test): a three-node cluster in network namespaces (needs root),
 * DPU crossings published at a steady rate for an hour, spread over the three brokers. Every
 * minute the resident memory (RSS) of every process is sampled and printed; at the end every
 * space's count must equal the distinct crossings sent to it (fewer = lost, more = doubled), and
 * each process's RSS growth from the first sample after warm-up to the last is reported.
 *
 *   npx tsx test/bench/soak.ts [--minutes 60] [--rate 2000] [--dpus 60] [--warmup-min 5]
 *
 * Choose --rate as half the ceiling test/bench/ingest.ts measures. Exits 1 when anything was lost
 * or doubled.
 */
import fs from "node:fs";
import { Command } from "commander";
import mqtt from "mqtt";
import { deviceTopic } from "../../contracts/topics.ts";
import { influxClient } from "../../infra/provision.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { startClusterLab } from "../chaos/cluster-lab.ts";

const opts = new Command()
  .option("--minutes <n>", "how long to publish", "60")
  .option("--rate <n>", "crossings per second (all DPUs together)", "2000")
  .option("--dpus <n>", "simulated DPUs", "60")
  .option("--warmup-min <n>", "minutes before the memory baseline is taken", "5")
  .parse()
  .opts<{ minutes: string; rate: string; dpus: string; warmupMin: string }>();
const MINUTES = Number(opts.minutes), RATE = Number(opts.rate), DPUS = Number(opts.dpus), WARMUP = Number(opts.warmupMin);
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

const lab = await startClusterLab();
let exitCode = 0;
try {
  const dpus = Array.from({ length: DPUS }, (_, i) => ({ id: `soak-dpu-${i}`, doorway: `door-${i}`, space: `space-${i}`, secret: `soak-secret-${i}` }));
  const put = await lab.admin("PUT", `/api/v1/sites/${SITE}/topology`, {
    spaces: dpus.map((d) => ({ id: d.space, name: d.space })),
    doorways: dpus.map((d) => ({ id: d.doorway, entering_to: d.space, exiting_to: "outside" })),
    devices: dpus.map((d) => ({ id: d.id, kind: "dpu", doorway: d.doorway, secret: d.secret })),
  });
  if (put.status !== 200) throw new Error(`topology: ${put.status} ${await put.text()}`);
  await new Promise((r) => setTimeout(r, 1000));
  const clients = await Promise.all(dpus.map((d, i) => new Promise<mqtt.MqttClient>((resolve, reject) => {
    const c = mqtt.connect(lab.mqttUrls[i % lab.mqttUrls.length]!, { clientId: d.id, username: d.id, password: d.secret, clean: true, reconnectPeriod: 500 });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  })));

  const procs = [
    ...lab.machines.flatMap((m) => [
      { name: `nats@${m.node.name}`, pid: () => m.nats.server.proc.child.pid },
      ...[m.broker, m.host].map((p) => ({ name: `${p.kind}@${m.node.name}`, pid: () => p.pid })),
    ]),
    { name: "influxd", pid: () => lab.services.influxd?.proc.child.pid },
    { name: "api+load", pid: () => process.pid },
  ];
  const samples: Array<Record<string, number | undefined>> = [];
  const sample = (minute: number) => {
    const row = Object.fromEntries(procs.map((p) => [p.name, rssMiB(p.pid())]));
    samples.push(row);
    console.log(`minute ${String(minute).padStart(3)}  RSS MiB  ${procs.map((p) => `${p.name} ${row[p.name] ?? "-"}`).join("  ")}`);
  };

  const sentPer = dpus.map(() => 0);
  const lastTs = dpus.map(() => 0);
  let sent = 0, acked = 0;
  const start = Date.now();
  const total = RATE * MINUTES * 60;
  sample(0);
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
      if (now >= nextSample) { sample(Math.round((now - start) / 60_000)); nextSample += 60_000; }
      if (sent >= total) { clearInterval(timer); resolve(); }
    }, 10);
  });
  const deadline = Date.now() + 300_000;
  while (acked < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  sample(Math.round((Date.now() - start) / 60_000));

  const influx = influxClient(lab.services.influxUrl, lab.cfg.influxDb);
  let lost = 0, doubled = 0;
  const settle = Date.now() + 120_000;
  for (;;) {
    const rows = await influx.query<{ space: string; last: number }>(`SELECT last("count") FROM "occupancy" WHERE "site" = '${SITE}' GROUP BY "space"`);
    const counts = new Map((rows as unknown as Array<{ space: string; last: number }>).map((r) => [r.space, r.last]));
    lost = 0; doubled = 0;
    dpus.forEach((d, i) => {
      const got = counts.get(d.space) ?? 0;
      if (got < sentPer[i]!) lost += sentPer[i]! - got; else doubled += got - sentPer[i]!;
    });
    if ((lost === 0 && doubled === 0) || Date.now() > settle) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  for (const c of clients) c.end(true);

  const base = samples[Math.min(WARMUP, samples.length - 1)]!;
  const last = samples[samples.length - 1]!;
  const growth = Object.fromEntries(procs.map((p) => {
    const a = base[p.name], b = last[p.name];
    return [p.name, a && b ? { from_mib: a, to_mib: b, growth_pct: Math.round(((b - a) / a) * 1000) / 10 } : null];
  }));
  console.log(JSON.stringify({ minutes: MINUTES, rate: RATE, sent, acked, lost, doubled, rss_after_warmup: growth }, null, 2));
  exitCode = lost === 0 && doubled === 0 ? 0 : 1;
} finally {
  await lab.stop();
}
process.exit(exitCode);
