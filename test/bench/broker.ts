/**
 * Broker benchmark (a script, not a test): the same MQTT client and the same payloads against
 * footfall's broker (startMqttBroker, storing every crossing in a real nats-server's JetStream
 * before its PUBACK) and its peers — plain aedes of the same version with no hooks, and Debian's
 * mosquitto when installed — side by side in one run. Each broker runs in a process of its own;
 * its CPU time (utime + stime from /proc/<pid>/stat) is measured over the timed window only, so
 * the client's CPU is not counted. Footfall's nats-server CPU is reported beside it.
 *
 * Load: `--publishers` DPUs, each keeping `--window` QoS 1 publishes of one crossing event in
 * flight (the next is sent as each PUBACK arrives). A round runs every peer once, one after the
 * other, after `--warmup` seconds of unmeasured load; the figures are the median over `--runs`
 * rounds with their range, and ratios footfall/peer per round (median and range).
 *
 *   npx tsx test/bench/broker.ts [--runs 3] [--seconds 5] [--warmup 1] [--publishers 8] [--window 32]
 *                                [--peers plain,footfall,mosquitto] [--profile dir] [--baseline dir]
 *
 * Exits 1 when footfall's broker acknowledged a crossing JetStream did not store.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import mqtt from "mqtt";
import { Kvm } from "@nats-io/kv";
import type { DeviceRecord } from "../../contracts/device.ts";
import { KV_DEVICES, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { connectNats } from "../../infra/nats.ts";
import { provisionNats } from "../../infra/provision.ts";
import { hashSecretSync } from "../../topology/devices/device-secret.ts";
import { startTestServices } from "../support/services.ts";
import { countActorBodies } from "../support/stream-read.ts";
import { freePort } from "../support/ports.ts";
import { median } from "./summary.ts";
import { cpuSeconds } from "./proc-cpu.ts";

const o = new Command()
  .option("--runs <n>", "rounds (each runs every peer once)", "3")
  .option("--seconds <n>", "measured seconds per broker and round", "5")
  .option("--warmup <n>", "unmeasured seconds of load before that", "1")
  .option("--publishers <n>", "MQTT clients (one DPU each)", "8")
  .option("--window <n>", "QoS 1 publishes each client keeps in flight", "32")
  .option("--peers <list>", "brokers to run, in this order: plain, footfall, mosquitto", "plain,footfall,mosquitto")
  .option("--profile <dir>", "write a V8 CPU profile of footfall's broker process into this folder")
  .option("--baseline <dir>", "adds peer \"baseline\": footfall's broker of another checkout (e.g. a git worktree of an earlier commit)")
  .parse()
  .opts<{ runs: string; seconds: string; warmup: string; publishers: string; window: string; peers: string; profile?: string; baseline?: string }>();

const RUNS = Number(o.runs), SECONDS = Number(o.seconds), WARMUP = Number(o.warmup);
const PUBLISHERS = Number(o.publishers), WINDOW = Number(o.window);
const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].find((p) => fs.existsSync(p));
type Peer = "plain" | "footfall" | "mosquitto" | "baseline";
const peers = [...o.peers.split(",").map((s) => s.trim()), ...(o.baseline ? ["baseline"] : [])].filter((p): p is Peer => {
  if (p === "mosquitto" && !MOSQUITTO) { console.error("mosquitto is not installed (apt-get install mosquitto): skipped"); return false; }
  if (p === "plain" || p === "footfall" || p === "mosquitto" || p === "baseline") return true;
  throw new Error(`unknown peer ${p}`);
});
const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), "broker-server.ts");
const SITE = "bench";
const dpus = Array.from({ length: PUBLISHERS }, (_, i) => {
  const secret = `bench-secret-${i}`;
  const record: DeviceRecord = { id: `bench-dpu-${i}`, kind: "dpu", site: SITE, doorway: `door-${i}`, secretHash: hashSecretSync(secret) };
  return { record, secret };
});

interface Running { port: number; pid: number; aux?: { name: string; pid: number }; stored?: () => Promise<number>; stop(): Promise<void> }

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", () => r())));
}

/** Spawns the bench's broker-server.ts and waits for its port. */
async function spawnServer(args: string[], profile: boolean): Promise<{ child: ChildProcess; port: number }> {
  const prof = profile && o.profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(o.profile)}`] : [];
  const child = spawn(process.execPath, [...prof, "--import", "tsx", SERVER, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /^port (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`broker-server ${args.join(" ")} exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return { child, port };
}

async function start(peer: Peer): Promise<Running> {
  if (peer === "plain") {
    const { child, port } = await spawnServer(["--kind", "plain"], false);
    return { port, pid: child.pid!, async stop() { child.kill("SIGTERM"); await exited(child); } };
  }
  if (peer === "mosquitto") {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-mosquitto-"));
    const conf = path.join(dir, "mosquitto.conf");
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`);
    const child = spawn(MOSQUITTO!, ["-c", conf], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((r) => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 500 });
        c.once("connect", () => { c.end(true); r(true); });
        c.once("error", () => { c.end(true); r(false); });
        c.once("close", () => r(false));
      });
      if (up) break;
      if (i > 50 || child.exitCode !== null) { child.kill("SIGKILL"); throw new Error("mosquitto did not start"); }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { port, pid: child.pid!, async stop() { child.kill("SIGTERM"); await exited(child); fs.rmSync(dir, { recursive: true, force: true }); } };
  }
  const services = await startTestServices({ influx: false });
  const nc = await connectNats(services.natsUrl, "bench-setup");
  try {
    await provisionNats(nc, { leaseTtlMs: 5000 });
    const kv = await new Kvm(nc).open(KV_DEVICES);
    for (const d of dpus) await kv.put(d.record.id, JSON.stringify(d.record));
    const root = peer === "baseline" ? ["--root", path.resolve(o.baseline!)] : [];
    const { child, port } = await spawnServer(["--kind", "footfall", "--nats", services.natsUrl, ...root], peer === "footfall");
    return {
      port, pid: child.pid!, aux: { name: "nats-server", pid: services.nats!.proc.child.pid! },
      stored: () => countActorBodies(nc, STREAM_ACTORS, ">"),
      async stop() { child.kill("SIGTERM"); await exited(child); await nc.close(); await services.stop(); },
    };
  } catch (err) {
    await nc.close();
    await services.stop();
    throw err;
  }
}

interface Measured { msgs_per_s: number; cpu_s_per_10k: number; aux_cpu_s_per_10k?: number; acked: number; stored?: number }

async function measure(peer: Peer): Promise<Measured> {
  const b = await start(peer);
  try {
    const clients = await Promise.all(dpus.map((d) => new Promise<mqtt.MqttClient>((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, { clientId: d.record.id, username: d.record.id, password: d.secret, clean: true, reconnectPeriod: 0 });
      c.once("connect", () => resolve(c));
      c.once("error", reject);
    })));
    let running = true, counting = false, acked = 0, total = 0, outstanding = 0, failed = 0;
    const seq = dpus.map(() => 0);
    const send = (k: number) => {
      const d = dpus[k]!.record;
      const payload = JSON.stringify({ id: `e${++seq[k]!}`, ts: Date.now(), doorway: d.doorway, delta: 1 });
      outstanding++;
      clients[k]!.publish(deviceTopic(SITE, "dpu", d.id, "crossing"), payload, { qos: 1 }, (err) => {
        outstanding--;
        if (err) { failed++; return; }
        total++;
        if (counting) acked++;
        if (running) send(k);
      });
    };
    for (let k = 0; k < dpus.length; k++) for (let w = 0; w < WINDOW; w++) send(k);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const cpu0 = cpuSeconds(b.pid), aux0 = b.aux ? cpuSeconds(b.aux.pid) : 0, t0 = performance.now();
    counting = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    counting = false;
    const cpu1 = cpuSeconds(b.pid), aux1 = b.aux ? cpuSeconds(b.aux.pid) : 0, t1 = performance.now();
    const n = acked;
    running = false;
    for (let i = 0; outstanding > 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(clients.map((c) => c.endAsync()));
    if (failed > 0) throw new Error(`${peer}: ${failed} publishes failed`);
    const m: Measured = {
      msgs_per_s: Math.round(n / ((t1 - t0) / 1000)),
      cpu_s_per_10k: round((cpu1 - cpu0) / n * 10_000),
      acked: total,
    };
    if (b.aux) m.aux_cpu_s_per_10k = round((aux1 - aux0) / n * 10_000);
    if (b.stored) m.stored = await b.stored();
    return m;
  } finally {
    await b.stop();
  }
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const range = (xs: number[], d = 3) => ({ median: round(median(xs), d), min: round(Math.min(...xs), d), max: round(Math.max(...xs), d) });

const rounds: Array<Partial<Record<Peer, Measured>>> = [];
let notStored = 0;
for (let r = 1; r <= RUNS; r++) {
  const row: Partial<Record<Peer, Measured>> = {};
  for (const p of peers) {
    const m = await measure(p);
    row[p] = m;
    console.error(`round ${r} ${p.padEnd(9)} ${String(m.msgs_per_s).padStart(6)} msgs/s  ${m.cpu_s_per_10k.toFixed(3)} CPU s / 10k` +
      (m.aux_cpu_s_per_10k === undefined ? "" : `  (+ nats-server ${m.aux_cpu_s_per_10k.toFixed(3)})`) + (m.stored === undefined ? "" : `  acked ${m.acked}, stored ${m.stored}`));
    if (m.stored !== undefined && m.stored < m.acked) notStored += m.acked - m.stored;
  }
  rounds.push(row);
}

const figures: Record<string, unknown> = {
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, node ${process.version}`,
  publishers: PUBLISHERS, window: WINDOW, seconds: SECONDS, runs: RUNS, qos: 1,
};
for (const p of peers) {
  const ms = rounds.map((r) => r[p]!);
  figures[p] = {
    msgs_per_s: range(ms.map((m) => m.msgs_per_s), 0),
    cpu_s_per_10k: range(ms.map((m) => m.cpu_s_per_10k)),
    ...(p === "footfall" || p === "baseline" ? { nats_server_cpu_s_per_10k: range(ms.map((m) => m.aux_cpu_s_per_10k!)) } : {}),
  };
}
if (peers.includes("footfall")) {
  for (const p of peers.filter((x) => x !== "footfall")) {
    figures[`footfall_vs_${p}`] = {
      throughput_ratio: range(rounds.map((r) => r.footfall!.msgs_per_s / r[p]!.msgs_per_s), 2),
      cpu_per_msg_ratio: range(rounds.map((r) => r.footfall!.cpu_s_per_10k / r[p]!.cpu_s_per_10k), 2),
    };
  }
  figures.acked_not_stored = notStored;
}
console.log(JSON.stringify(figures, null, 2));
process.exit(notStored === 0 ? 0 : 1);
