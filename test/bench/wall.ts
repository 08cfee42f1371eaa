/**
 * Live wall benchmark (a script, not a test). Sections (each a function below; `--only` runs one):
 *
 *   clients  The ingest benchmark (./ingest-run.ts) at a fixed rate, alternately without and with
 *            live-feed clients (A/B/A/B..., so the machine's noise hits both alike): `--clients`
 *            websockets subscribed to the bench site through a `footfall gateway` child process,
 *            `--stalled` of them stalled (they stop reading once their snapshot arrived). Prints
 *            per condition the median and range of sustained crossings/s and end-to-end p99, the
 *            ratio with/without, the stalled clients cut off, the updates each healthy client
 *            received, the gateway's RSS over the run and its event lag histogram.
 *
 *   latency  Publish → pixel: crossings published one at a time over MQTT, each timed until the wall
 *            in Chromium has painted the new count (./wall-latency.ts).
 *
 *   npx tsx test/bench/wall.ts [--only clients|latency] [--crossings 100] [--clients 500] [--stalled 50] [--rate 1000] [--seconds 20] [--runs 3]
 *
 * Human-readable lines first; the last line is one JSON object with every figure
 * ({"clients": {...}}; test/bench/repeat.ts reads it).
 */
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import hdr from "hdr-histogram-js";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../infra/nats.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import { KeyStore } from "../../access/key-store.ts";
import { freePort } from "../support/ports.ts";
import { runIngest, type IngestFigures, type IngestOptions } from "./ingest-run.ts";
import { measureWallLatency } from "./wall-latency.ts";
import type { ClientCounts, FromClients, ToClients } from "./wall-clients.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** healthy clients that note when each occupancy.changed arrived (for the fan-out delay) */
const TIMED_CLIENTS = 10;

const SECTIONS = ["clients", "latency"] as const;
type Section = (typeof SECTIONS)[number];

const opts = new Command()
  .option("--only <section>", `run one section: ${SECTIONS.join(" | ")} (default: all)`)
  .option("--clients <n>", "live-feed websockets (clients section)", "500")
  .option("--stalled <n>", "of which stop reading after their snapshot", "50")
  .option("--rate <n>", "crossings per second offered (all DPUs together)", "1000")
  .option("--seconds <n>", "how long each run publishes", "20")
  .option("--runs <n>", "runs per condition (alternating without / with clients)", "3")
  .option("--dpus <n>", "simulated DPUs (each its own space)", "50")
  .option("--crossings <n>", "crossings timed one at a time (latency section)", "100")
  .option("--cutoff-wait <s>", "after publishing, wait at most this long for the stalled clients to be cut off", "60")
  .parse()
  .opts<{ only?: string; crossings: string; clients: string; stalled: string; rate: string; seconds: string; runs: string; dpus: string; cutoffWait: string }>();

if (opts.only !== undefined && !(SECTIONS as readonly string[]).includes(opts.only)) {
  console.error(`--only: one of ${SECTIONS.join(", ")}`);
  process.exit(2);
}
const wanted = (s: Section) => opts.only === undefined || opts.only === s;

// ---------- helpers ----------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const fmtSpread = (s: { median: number; min: number; max: number }, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

interface Sample { name: string; labels: Record<string, string>; value: number }

/** Prometheus text exposition → samples. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
const sum = (samples: Sample[], name: string, where: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
const byLabel = (samples: Sample[], name: string, label: string) => {
  const out: Record<string, number> = {};
  for (const s of samples) if (s.name === name) out[s.labels[label] ?? ""] = (out[s.labels[label] ?? ""] ?? 0) + s.value;
  return out;
};

/** Resident set size of a process (Linux /proc), MiB. */
function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = (() => { try { return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100; } catch { return 100; } })();

/** CPU seconds (user + system) a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", () => r())));
}

// ---------- section: clients ----------

/** Cumulative counts per bucket upper bound (seconds; "+Inf" last); p50/p99 as the bound of the bucket they fall in. */
interface LagHistogram { count: number; p50_le_s: number; p99_le_s: number; buckets: Array<{ le: string; n: number }> }

/** The gateway's largest finite lag bucket (dashboards/gateway/gateway-metrics.ts). */
const LAG_LAST_BOUND_S = 60;

/** The upper bound of the bucket the q-quantile falls in (Infinity: past the last finite bound). */
function quantileBound(buckets: LagHistogram["buckets"], count: number, q: number): number {
  const b = buckets.find((x) => x.n >= q * count);
  return b === undefined || b.le === "+Inf" ? Infinity : Number(b.le);
}

interface WithClientsRun {
  ingest: IngestFigures;
  subscribe_ms: number;
  subscribed: number;
  subscribe_failed: number;
  /** seconds from the start of publishing until every crossing was delivered (its occupancy.changed published) */
  delivered_s: number;
  /** FF_EVENTS events the gateway's feed read between the clients' subscribes and the healthy clients' report */
  events_fanned_out: number;
  healthy: {
    clients: number; updates_min: number; updates_median: number; kib_median: number;
    /** healthy clients that received the stream's newest event (as of delivered_s) */
    at_newest_event: number;
    /** seconds from the start of publishing until they all had it (-1: not within 180 s after delivered_s) */
    caught_up_s: number;
    closed: number;
  };
  stalled: {
    clients: number;
    cut_off_by_gateway: number;
    too_slow_4408: number;
    heartbeat: number;
    /** seconds from the start of publishing until the gateway had cut off every stalled client (-1: not within the wait) */
    all_cut_off_s: number;
    /** close codes the stalled clients read once they resumed reading */
    closes_seen: Record<string, number>;
    /** updates the stalled clients read (they stop after their snapshot) */
    updates_max: number;
    /** how often ws tried to resume a stalled socket (refused) */
    resumes_refused: number;
  };
  disconnects: Record<string, number>;
  messages: { sent: number; coalesced: number; dropped: number };
  gateway_rss_mib: { idle: number; first: number; max: number; last: number; samples: number[] };
  /** the gateway's V8 heap in use (its /metrics), every 2 s */
  gateway_heap_used_mib: { first: number; max: number; last: number; samples: number[] };
  /**
   * occupancy.changed published to FF_EVENTS (seen by a NATS subscriber in the bench process) →
   * received by a healthy client, over TIMED_CLIENTS clients: what the gateway adds to the lag
   */
  fanout_ms: { samples: number; unmatched: number; p50: number; p99: number; max: number };
  /** CPU used from the start of publishing until every crossing was delivered, in cores (CPU seconds / wall seconds) */
  cpu_cores: { gateway: number; clients: number };
  /** the longest the gateway took to answer GET /metrics (asked every second from the start of publishing) */
  metrics_answer_max_s: number;
  /** the gateway's CPU use over each 2 s from the start of publishing, in cores */
  gateway_cpu_cores_samples: number[];
  /** the gateway's CPU time from the start of publishing to the end, per message it wrote meanwhile */
  gateway_cpu_us_per_message: number;
  event_lag: Record<string, LagHistogram>;
}

function lagHistograms(samples: Sample[]): Record<string, LagHistogram> {
  const out: Record<string, LagHistogram> = {};
  const types = new Set(samples.filter((s) => s.name === "footfall_live_event_lag_seconds_count").map((s) => s.labels.type!));
  for (const type of types) {
    const buckets = samples.filter((s) => s.name === "footfall_live_event_lag_seconds_bucket" && s.labels.type === type)
      .map((s) => ({ le: s.labels.le!, n: s.value }))
      .sort((a, b) => (a.le === "+Inf" ? 1 : b.le === "+Inf" ? -1 : Number(a.le) - Number(b.le)));
    const count = sum(samples, "footfall_live_event_lag_seconds_count", { type });
    out[type] = { count, p50_le_s: quantileBound(buckets, count, 0.5), p99_le_s: quantileBound(buckets, count, 0.99), buckets };
  }
  return out;
}

/** One ingest run with a gateway child process and the clients child process attached. */
async function ingestWithClients(ingest: IngestOptions, o: { clients: number; stalled: number; cutoffWaitS: number }): Promise<WithClientsRun> {
  let gateway: ChildProcess | undefined;
  let clients: ChildProcess | undefined;
  let metricsUrl = "";
  const rss: number[] = [];
  const heap: number[] = [];
  let answerMaxS = 0;
  /** the gateway's CPU use over each 2 s, in cores */
  const cpuCores: number[] = [];
  let lastCpu = { s: 0, at: 0 };
  const published = new Map<string, number>();
  let idleRss = 0;
  let sampler: NodeJS.Timeout | undefined;
  let nc: NatsConnection | undefined;
  /** when publishing started (and the CPU the children had used by then) */
  let start = { gateway: 0, clients: 0, at: 0 };
  const secondsSinceStart = () => (Date.now() - start.at) / 1000;
  let deliveredS = 0;
  let allCutS = -1;
  let run: Omit<WithClientsRun, "ingest"> | undefined;
  let ready: Extract<FromClients, { op: "ready" }> | undefined;
  let eventsAtReady = 0;
  let sentAtStart = 0;
  const fromClients: Array<(m: FromClients) => void> = [];

  const ask = <T extends FromClients["op"]>(m: ToClients, answer: T) => new Promise<Extract<FromClients, { op: T }>>((resolve) => {
    fromClients.push((r) => { if (r.op === answer) resolve(r as Extract<FromClients, { op: T }>); });
    clients!.send(m);
  });
  /** The gateway's metrics (retried: a keep-alive socket the server just closed answers ECONNRESET). */
  const scrape = async (): Promise<Sample[]> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return parseMetrics(await (await fetch(metricsUrl)).text());
      } catch (err) {
        if (attempt >= 5 || gateway?.exitCode !== null) throw err;
        await sleep(200);
      }
    }
  };
  const cutOff = (s: Sample[]) => sum(s, "footfall_live_disconnects_total", { reason: "too_slow" }) + sum(s, "footfall_live_disconnects_total", { reason: "heartbeat" });

  /** The clients, then the gateway (before the stack they read from stops). */
  async function stopChildren(): Promise<void> {
    clearInterval(sampler);
    if (clients && clients.exitCode === null) { clients.disconnect(); await exited(clients); }
    if (gateway && gateway.exitCode === null) { gateway.kill("SIGTERM"); await exited(gateway); }
    if (nc && !nc.isClosed()) await nc.close();
  }

  try {
    const ingestFigures = await runIngest(ingest, {
      async beforePublish({ stack, site }) {
        // a viewer key of the site, as a wall would hold
        nc = await connectNats(stack.cfg.natsUrl!, "wall");
        const keys = await KeyStore.open(nc);
        const { key } = await keys.create({ role: "viewer", sites: [site], name: "wall bench" });
        keys.close();

        const port = await freePort();
        gateway = spawn(process.execPath, [stack.cli, "gateway"], { env: { ...stack.env, FOOTFALL_GATEWAY_PORT: String(port) }, stdio: "inherit" });
        metricsUrl = `http://127.0.0.1:${port}/metrics`;
        for (let i = 0; ; i++) {
          try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch { /* not yet */ }
          if (i >= 600 || gateway.exitCode !== null) throw new Error("footfall gateway did not become healthy");
          await sleep(100);
        }
        idleRss = rssMiB(gateway.pid!) ?? 0;

        clients = fork(path.join(HERE, "wall-clients.ts"), [], { stdio: "inherit" });
        clients.on("message", (m: FromClients) => { for (const f of fromClients.splice(0)) f(m); });
        // when each occupancy.changed was published to FF_EVENTS (as a NATS subscriber sees it), for the fan-out delay
        const events = nc.subscribe(`evt.occupancy.${site}.>`);
        void (async () => {
          for await (const m of events) {
            const e = m.json<{ space: string; at: number }>();
            const k = `${e.space}|${e.at}`;
            if (!published.has(k)) published.set(k, Date.now());
          }
        })().catch(() => {});

        ready = await ask({ op: "start", port, key, site, clients: o.clients, stalled: o.stalled, timed: TIMED_CLIENTS }, "ready");
        console.error(`${ready.subscribed} clients subscribed in ${ready.ms} ms${ready.failed ? `, ${ready.failed} failed: ${ready.errors.join("; ")}` : ""}`);
        const atReady = await scrape();
        eventsAtReady = sum(atReady, "footfall_live_feed_events_total");
        sentAtStart = sum(atReady, "footfall_live_messages_sent_total");
        const pid = gateway.pid!;
        rss.push(rssMiB(pid) ?? 0);
        start = { gateway: cpuSeconds(pid), clients: cpuSeconds(clients.pid!), at: Date.now() };
        lastCpu = { s: start.gateway, at: start.at };
        let tick = 0;
        sampler = setInterval(() => {
          const sample = ++tick % 2 === 0;
          if (sample) {
            const r = rssMiB(pid);
            if (r !== undefined) rss.push(r);
            const cpu = cpuSeconds(pid), now = Date.now();
            cpuCores.push((cpu - lastCpu.s) / ((now - lastCpu.at) / 1000));
            lastCpu = { s: cpu, at: now };
          }
          const asked = Date.now();
          void scrape().then((m) => {
            // how long the gateway took to answer (its event loop busy elsewhere)
            answerMaxS = Math.max(answerMaxS, (Date.now() - asked) / 1000);
            if (sample) heap.push(sum(m, "nodejs_heap_size_used_bytes") / 2 ** 20);
            // when the stalled clients were cut off
            if (allCutS < 0 && cutOff(m) >= o.stalled) allCutS = secondsSinceStart();
          }, () => {});
        }, 1000);
      },

      async beforeStop() {
        deliveredS = secondsSinceStart();
        const cpu_cores = {
          gateway: (cpuSeconds(gateway!.pid!) - start.gateway) / deliveredS,
          clients: (cpuSeconds(clients!.pid!) - start.clients) / deliveredS,
        };
        // every event in the stream by now must reach every healthy client
        const untilSeq = (await (await jetstreamManager(nc!)).streams.info(STREAM_EVENTS)).state.last_seq;
        const report = await ask({ op: "report", untilSeq, maxWaitMs: 180_000 }, "report");
        const healthy: ClientCounts = report.healthy;
        const fanout = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
        let unmatched = 0;
        for (const arrivals of report.arrivals) {
          for (const [space, at, received] of arrivals) {
            const t = published.get(`${space}|${at}`);
            if (t === undefined) unmatched++;
            else fanout.recordValue(Math.max(1, received - t));
          }
        }
        const eventsAtReport = sum(await scrape(), "footfall_live_feed_events_total");
        const healthyDone = healthy.lastSeq.filter((q) => q >= untilSeq).length;
        const caughtUpS = healthyDone === healthy.lastSeq.length ? secondsSinceStart() : -1;
        // the stalled clients: wait (bounded) until the gateway has cut every one of them off
        while (allCutS < 0 && secondsSinceStart() - deliveredS < o.cutoffWaitS) await sleep(500);
        const s = await scrape();
        clearInterval(sampler);
        rss.push(rssMiB(gateway!.pid!) ?? 0);
        const unstalled = await ask({ op: "unstall", waitMs: 5000 }, "unstalled");
        const disconnects = byLabel(s, "footfall_live_disconnects_total", "reason");
        run = {
          subscribe_ms: ready!.ms, subscribed: ready!.subscribed, subscribe_failed: ready!.failed,
          delivered_s: deliveredS,
          events_fanned_out: eventsAtReport - eventsAtReady,
          healthy: {
            clients: healthy.updates.length,
            updates_min: Math.min(...healthy.updates), updates_median: median(healthy.updates),
            kib_median: median(healthy.bytes) / 1024,
            at_newest_event: healthyDone,
            caught_up_s: caughtUpS,
            closed: healthy.updates.length - (healthy.closes.open ?? 0),
          },
          stalled: {
            clients: report.stalled.updates.length,
            cut_off_by_gateway: cutOff(s),
            too_slow_4408: disconnects.too_slow ?? 0,
            heartbeat: disconnects.heartbeat ?? 0,
            all_cut_off_s: allCutS,
            closes_seen: unstalled.stalled.closes,
            updates_max: Math.max(0, ...report.stalled.updates),
            resumes_refused: report.resumesRefused,
          },
          disconnects,
          messages: {
            sent: sum(s, "footfall_live_messages_sent_total"),
            coalesced: sum(s, "footfall_live_messages_coalesced_total"),
            dropped: sum(s, "footfall_live_messages_dropped_total"),
          },
          gateway_rss_mib: { idle: idleRss, first: rss[0]!, max: Math.max(...rss), last: rss[rss.length - 1]!, samples: [...rss] },
          gateway_heap_used_mib: { first: heap[0] ?? NaN, max: Math.max(...heap), last: heap[heap.length - 1] ?? NaN, samples: [...heap] },
          fanout_ms: { samples: fanout.totalCount, unmatched, p50: fanout.getValueAtPercentile(50), p99: fanout.getValueAtPercentile(99), max: fanout.maxValue },
          cpu_cores,
          metrics_answer_max_s: answerMaxS,
          gateway_cpu_cores_samples: [...cpuCores],
          gateway_cpu_us_per_message: (cpuSeconds(gateway!.pid!) - start.gateway) * 1e6 / (sum(s, "footfall_live_messages_sent_total") - sentAtStart),
          event_lag: lagHistograms(s),
        };
        await stopChildren();
      },
    });
    if (!run) throw new Error("the run ended before its figures were taken");
    return { ingest: ingestFigures, ...run };
  } finally {
    await stopChildren();
  }
}

async function clientsSection() {
  const ingest: IngestOptions = { dpus: Number(opts.dpus), rate: Number(opts.rate), seconds: Number(opts.seconds), hosts: 1, dup: 0.01 };
  const o = { clients: Number(opts.clients), stalled: Number(opts.stalled), cutoffWaitS: Number(opts.cutoffWait) };
  const runs = Number(opts.runs);
  const without: IngestFigures[] = [];
  const withClients: WithClientsRun[] = [];
  for (let i = 1; i <= runs; i++) {
    console.error(`\n== run ${i} of ${runs}, without clients ==`);
    without.push(await runIngest(ingest));
    console.error(`\n== run ${i} of ${runs}, with ${o.clients} clients (${o.stalled} stalled) ==`);
    withClients.push(await ingestWithClients(ingest, o));
  }

  const sustainedA = without.map((f) => f.sustained_crossings_per_s), sustainedB = withClients.map((r) => r.ingest.sustained_crossings_per_s);
  const p99A = without.map((f) => f.end_to_end_ms.p99), p99B = withClients.map((r) => r.ingest.end_to_end_ms.p99);
  const p50A = without.map((f) => f.end_to_end_ms.p50), p50B = withClients.map((r) => r.ingest.end_to_end_ms.p50);
  const healthyMin = withClients.map((r) => r.healthy.updates_min), healthyMedian = withClients.map((r) => r.healthy.updates_median);

  // the lag histogram over every run with clients (bucket counts added up)
  const lag: Record<string, LagHistogram> = {};
  for (const r of withClients) {
    for (const [type, h] of Object.entries(r.event_lag)) {
      const acc = (lag[type] ??= { count: 0, p50_le_s: 0, p99_le_s: 0, buckets: h.buckets.map((b) => ({ le: b.le, n: 0 })) });
      acc.count += h.count;
      for (const b of h.buckets) acc.buckets.find((x) => x.le === b.le)!.n += b.n;
    }
  }
  for (const h of Object.values(lag)) {
    h.p50_le_s = quantileBound(h.buckets, h.count, 0.5);
    h.p99_le_s = quantileBound(h.buckets, h.count, 0.99);
  }

  const each = <T>(f: (r: WithClientsRun) => T) => withClients.map(f);
  const fig = {
    machine: without[0]!.machine,
    rate: ingest.rate, seconds: ingest.seconds, dpus: ingest.dpus, runs_per_condition: runs, clients: o.clients, stalled_clients: o.stalled,
    without_clients: {
      sustained_crossings_per_s: spread(sustainedA), end_to_end_p50_ms: spread(p50A), end_to_end_p99_ms: spread(p99A),
      lost: without.reduce((a, f) => a + f.lost, 0), doubled: without.reduce((a, f) => a + f.doubled, 0),
    },
    with_clients: {
      sustained_crossings_per_s: spread(sustainedB), end_to_end_p50_ms: spread(p50B), end_to_end_p99_ms: spread(p99B),
      lost: withClients.reduce((a, r) => a + r.ingest.lost, 0), doubled: withClients.reduce((a, r) => a + r.ingest.doubled, 0),
    },
    ratio_with_to_without: {
      sustained_crossings_per_s: median(sustainedB) / median(sustainedA),
      end_to_end_p99_ms: median(p99B) / median(p99A),
      // run i with clients against run i without (they ran back to back)
      sustained_per_pair: sustainedB.map((b, i) => b / sustainedA[i]!),
      end_to_end_p99_per_pair: p99B.map((b, i) => b / p99A[i]!),
    },
    delivered_s: spread(each((r) => r.delivered_s)),
    stalled: {
      cut_off_by_gateway: spread(each((r) => r.stalled.cut_off_by_gateway)),
      too_slow_4408: spread(each((r) => r.stalled.too_slow_4408)),
      heartbeat: spread(each((r) => r.stalled.heartbeat)),
      all_cut_off_s: each((r) => r.stalled.all_cut_off_s),
      closes_seen: each((r) => r.stalled.closes_seen),
      updates_read_max: spread(each((r) => r.stalled.updates_max)),
      resumes_refused: spread(each((r) => r.stalled.resumes_refused)),
    },
    healthy: {
      clients: o.clients - o.stalled,
      updates_per_client_min: spread(healthyMin), updates_per_client_median: spread(healthyMedian),
      kib_per_client_median: spread(each((r) => r.healthy.kib_median)),
      events_fanned_out: spread(each((r) => r.events_fanned_out)),
      at_newest_event: spread(each((r) => r.healthy.at_newest_event)),
      caught_up_s: each((r) => r.healthy.caught_up_s),
      closed: spread(each((r) => r.healthy.closed)),
    },
    gateway_rss_mib: {
      idle: spread(each((r) => r.gateway_rss_mib.idle)),
      first: spread(each((r) => r.gateway_rss_mib.first)),
      max: spread(each((r) => r.gateway_rss_mib.max)),
      last: spread(each((r) => r.gateway_rss_mib.last)),
    },
    gateway_heap_used_mib: {
      first: spread(each((r) => r.gateway_heap_used_mib.first)),
      max: spread(each((r) => r.gateway_heap_used_mib.max)),
      last: spread(each((r) => r.gateway_heap_used_mib.last)),
    },
    fanout_ms: {
      p50: spread(each((r) => r.fanout_ms.p50)),
      p99: spread(each((r) => r.fanout_ms.p99)),
      max: spread(each((r) => r.fanout_ms.max)),
      samples: spread(each((r) => r.fanout_ms.samples)),
      unmatched: spread(each((r) => r.fanout_ms.unmatched)),
    },
    gateway_metrics_answer_max_s: spread(each((r) => r.metrics_answer_max_s)),
    gateway_cpu_us_per_message: spread(each((r) => r.gateway_cpu_us_per_message)),
    cpu_cores_until_delivered: {
      gateway: spread(each((r) => r.cpu_cores.gateway)),
      clients: spread(each((r) => r.cpu_cores.clients)),
    },
    gateway_messages: {
      sent: spread(each((r) => r.messages.sent)),
      coalesced: spread(each((r) => r.messages.coalesced)),
      dropped: spread(each((r) => r.messages.dropped)),
    },
    event_lag: lag,
    runs: { without_clients: without, with_clients: withClients },
  };

  const bound = (le: number) => (Number.isFinite(le) ? `≤ ${le} s` : `> ${LAG_LAST_BOUND_S} s`);
  const seconds = (xs: number[], none: string) => xs.map((x) => (x < 0 ? none : `${fmt(x, 1)} s`)).join(", ");
  const lines = [
    `clients: ${fig.machine}; ${fmt(ingest.rate)} crossings/s offered for ${ingest.seconds} s by ${ingest.dpus} DPUs; ${runs} runs per condition, alternating; medians (ranges)`,
    `  without clients: sustained ${fmtSpread(fig.without_clients.sustained_crossings_per_s)} crossings/s, end to end p50 ${fmtSpread(fig.without_clients.end_to_end_p50_ms)} ms, p99 ${fmtSpread(fig.without_clients.end_to_end_p99_ms)} ms; lost ${fig.without_clients.lost}, doubled ${fig.without_clients.doubled}`,
    `  with ${o.clients} clients (${o.stalled} stalled): sustained ${fmtSpread(fig.with_clients.sustained_crossings_per_s)} crossings/s, end to end p50 ${fmtSpread(fig.with_clients.end_to_end_p50_ms)} ms, p99 ${fmtSpread(fig.with_clients.end_to_end_p99_ms)} ms; lost ${fig.with_clients.lost}, doubled ${fig.with_clients.doubled}`,
    `  ratio with / without (of the medians): sustained ${fmt(fig.ratio_with_to_without.sustained_crossings_per_s, 3)}, end to end p99 ${fmt(fig.ratio_with_to_without.end_to_end_p99_ms, 2)}; per pair: sustained ${fig.ratio_with_to_without.sustained_per_pair.map((r) => fmt(r, 3)).join(", ")}, p99 ${fig.ratio_with_to_without.end_to_end_p99_per_pair.map((r) => fmt(r, 2)).join(", ")}`,
    `  every crossing delivered at ${fmtSpread(fig.delivered_s, 1)} s after publishing started`,
    `  stalled clients cut off by the gateway: ${fmtSpread(fig.stalled.cut_off_by_gateway)} of ${o.stalled} (4408 too slow ${fmtSpread(fig.stalled.too_slow_4408)}, heartbeat ${fmtSpread(fig.stalled.heartbeat)}); all of them by ${seconds(fig.stalled.all_cut_off_s, "not within the wait")} after publishing started`,
    `  stalled clients: updates read at most ${fmtSpread(fig.stalled.updates_read_max)}, resumes by ws refused ${fmtSpread(fig.stalled.resumes_refused)}; close codes they read once resumed: ${fig.stalled.closes_seen.map((c) => JSON.stringify(c)).join(", ")}`,
    `  healthy clients (${fig.healthy.clients}): updates per client min ${fmtSpread(fig.healthy.updates_per_client_min)}, median ${fmtSpread(fig.healthy.updates_per_client_median)} (${fmtSpread(fig.healthy.kib_per_client_median)} KiB), of ${fmtSpread(fig.healthy.events_fanned_out)} events the gateway read; had the stream's newest event ${fmtSpread(fig.healthy.at_newest_event)}, all of them by ${seconds(fig.healthy.caught_up_s, "not within 180 s")} after publishing started; closed ${fmtSpread(fig.healthy.closed)}`,
    `  gateway RSS MiB: idle ${fmtSpread(fig.gateway_rss_mib.idle)}, after the subscribes ${fmtSpread(fig.gateway_rss_mib.first)}, max ${fmtSpread(fig.gateway_rss_mib.max)}, last ${fmtSpread(fig.gateway_rss_mib.last)}`,
    ...withClients.map((r, i) => `    run ${i + 1}, every 2 s: ${r.gateway_rss_mib.samples.map((x) => fmt(x)).join(" ")}`),
    `  gateway V8 heap used MiB: after the subscribes ${fmtSpread(fig.gateway_heap_used_mib.first)}, max ${fmtSpread(fig.gateway_heap_used_mib.max)}, last ${fmtSpread(fig.gateway_heap_used_mib.last)}`,
    ...withClients.map((r, i) => `    run ${i + 1}, every 2 s: ${r.gateway_heap_used_mib.samples.map((x) => fmt(x)).join(" ")}`),
    `  fan-out delay (occupancy.changed in FF_EVENTS → received by a client; ${TIMED_CLIENTS} healthy clients): p50 ${fmtSpread(fig.fanout_ms.p50)} ms, p99 ${fmtSpread(fig.fanout_ms.p99)} ms, max ${fmtSpread(fig.fanout_ms.max)} ms over ${fmtSpread(fig.fanout_ms.samples)} arrivals (${fmtSpread(fig.fanout_ms.unmatched)} not matched)`,
    `  CPU until every crossing was delivered, in cores: gateway ${fmtSpread(fig.cpu_cores_until_delivered.gateway, 2)}, the clients' process ${fmtSpread(fig.cpu_cores_until_delivered.clients, 2)}`,
    `  gateway: GET /metrics (asked every second) answered after at most ${fmtSpread(fig.gateway_metrics_answer_max_s, 1)} s; CPU per message written ${fmtSpread(fig.gateway_cpu_us_per_message, 1)} µs`,
    ...withClients.map((r, i) => `    run ${i + 1}, gateway CPU in cores every 2 s: ${r.gateway_cpu_cores_samples.map((x) => fmt(x, 2)).join(" ")}`),
    `  gateway messages: sent ${fmtSpread(fig.gateway_messages.sent)}, coalesced ${fmtSpread(fig.gateway_messages.coalesced)}, dropped ${fmtSpread(fig.gateway_messages.dropped)}`,
    `  event lag (event time → written to a socket), all runs with clients, share at or below each bound:`,
    ...Object.entries(lag).map(([type, h]) => `    ${type}: ${fmt(h.count)} writes, p50 ${bound(h.p50_le_s)}, p99 ${bound(h.p99_le_s)}; ${h.buckets.map((b) => `≤${b.le}: ${(100 * b.n / h.count).toFixed(1)}%`).join(" ")}`),
  ];
  return { fig, lines };
}

async function latencySection() {
  const { machine: _machine, ...fig } = await measureWallLatency({ crossings: Number(opts.crossings), log: (l) => console.error(l) });
  const lines = [
    `wall publish → pixel over ${fig.crossings} crossings (MQTT QoS 1 → broker → JetStream → actors → FF_EVENTS → live feed → Chromium paint)`,
    `  p50 ${fig.p50Ms} ms   p99 ${fig.p99Ms} ms   max ${fig.maxMs} ms   mean ${fig.meanMs} ms   (DOM change alone: p50 ${fig.domP50Ms} ms, p99 ${fig.domP99Ms} ms)`,
  ];
  return { fig, lines };
}

const all: Record<string, unknown> = {};
const summary: string[] = [];
if (wanted("clients")) {
  const { fig, lines } = await clientsSection();
  all.clients = fig;
  summary.push(...lines);
}
if (wanted("latency")) {
  const { fig, lines } = await latencySection();
  all.latency = fig;
  summary.push(...lines);
}
console.log(summary.join("\n"));
console.log(JSON.stringify(all));
// like the ingest benchmark: a crossing lost or doubled is a failure
const clientsFig = all.clients as { without_clients: { lost: number; doubled: number }; with_clients: { lost: number; doubled: number } } | undefined;
const broken = clientsFig ? clientsFig.without_clients.lost + clientsFig.without_clients.doubled + clientsFig.with_clients.lost + clientsFig.with_clients.doubled : 0;
process.exit(broken === 0 ? 0 : 1);
