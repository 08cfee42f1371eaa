/**
 * The ingest benchmark's measurement as a function (test/bench/ingest.ts is its command line;
 * test/bench/wall.ts runs it with and without live-feed clients): N simulated DPUs → aedes
 * broker → JetStream → actor host → InfluxDB. Returns crossings/s sustained, end-to-end latency
 * p50/p99, lost and doubled counts.
 *
 * Every DPU sits on its own doorway from outside into its own space and sends only +1
 * crossings, so at the end each space's count must equal the distinct crossings sent to it:
 * fewer = lost, more = doubled. A share of events is deliberately sent twice.
 * Latency: device publish → the occupancy.changed event of that space covering the crossing.
 * That event is emitted in the same flush as the InfluxDB write; the run also polls
 * InfluxDB for a sample of crossings, one at a time ("queryable" latency: publish → its
 * occupancy point answers a query; the 20 ms poll interval is part of that figure).
 */
import os from "node:os";
import mqtt from "mqtt";
import hdr from "hdr-histogram-js";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { startBenchStack, type BenchStack } from "./bench-stack.ts";
import { benchDpus, dpuTopology, lostAndDoubled } from "./dpu-site.ts";
import { cpuPer10k, stackCpu, type StackCpu } from "./proc-cpu.ts";

export interface IngestOptions {
  /** simulated DPUs */
  dpus: number;
  /** target crossings per second (all DPUs together) */
  rate: number;
  /** how long to publish */
  seconds: number;
  /** actor host processes */
  hosts: number;
  /** share of events sent twice */
  dup: number;
  /** write V8 CPU profiles of the broker and actor host processes into this folder */
  profileDir?: string | undefined;
}

/** What a caller adds around the measurement (test/bench/wall.ts: a gateway and its clients). */
export interface IngestHooks {
  /** The stack is up and the site's topology imported; publishing starts when this resolves. */
  beforePublish?(ctx: { stack: BenchStack; site: string; spaces: string[] }): Promise<void>;
  /** Every crossing delivered (or the wait gave up) and the counts read; the stack stops after this. */
  beforeStop?(): Promise<void>;
}

export interface IngestFigures {
  machine: string;
  dpus: number;
  hosts: number;
  target_rate: number;
  crossings_sent: number;
  duplicates_sent: number;
  acked: number;
  publish_rate_per_s: number;
  sustained_crossings_per_s: number;
  puback_ms: { p50: number; p99: number };
  end_to_end_ms: { p50: number; p99: number; max: number };
  queryable_ms: { samples: number; p50: number; p99: number };
  delivered: number;
  lost: number;
  doubled: number;
  /**
   * CPU seconds (user + system) per 10,000 distinct crossings, from the first publish to the last
   * delivery, of every process on the machine the bench runs: broker, actor hosts, nats-server,
   * influxd, and the bench process (the simulated DPUs' MQTT clients and the API); total is their sum
   */
  cpu_s_per_10k: StackCpu & { total: number };
}

export const INGEST_SITE = "bench";

/** One run on a fresh stack of its own (started and stopped here). */
export async function runIngest(o: IngestOptions, hooks: IngestHooks = {}): Promise<IngestFigures> {
  const { dpus: DPUS, rate: RATE, seconds: SECONDS, hosts: HOSTS, dup: DUP } = o;
  const SITE = INGEST_SITE;
  const bench = await startBenchStack({ hosts: HOSTS, profileDir: o.profileDir });
  try {
    return await measure();
  } finally {
    await bench.stop();
  }

  async function measure(): Promise<IngestFigures> {
    const cfg = bench.cfg;
    const api = { port: bench.apiPort };

    const dpus = benchDpus(DPUS, "bench");
    const put = await fetch(`http://127.0.0.1:${api.port}/api/v1/sites/${SITE}/topology`, {
      method: "PUT", headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(dpuTopology(dpus)),
    });
    if (put.status !== 200) throw new Error(`topology import failed: ${put.status} ${await put.text()}`);
    // the broker's registry watches KV: give it a moment to see the new devices
    await new Promise((r) => setTimeout(r, 500));

    // latency: publish time per (space, ts); an occupancy.changed event with `at` covers every crossing of that space up to at
    const pending = dpus.map(() => [] as Array<{ ts: number; sentAt: number }>);
    const e2e = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
    const ackLat = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
    let delivered = 0, lastDeliveredAt = 0;
    const nc = await connectNats(cfg.natsUrl!, "ingest-run");
    const sub = nc.subscribe(`evt.occupancy.${SITE}.>`);
    (async () => {
      for await (const m of sub) {
        const ev = m.json<{ space: string; at: number }>();
        const idx = Number(ev.space.slice("space-".length));
        const q = pending[idx]!;
        const now = Date.now();
        let n = 0;
        while (n < q.length && q[n]!.ts <= ev.at) { e2e.recordValue(Math.max(1, now - q[n]!.sentAt)); n++; }
        if (n) { q.splice(0, n); delivered += n; lastDeliveredAt = now; }
      }
    })().catch(() => {});

    const clients = await Promise.all(dpus.map((d) => new Promise<mqtt.MqttClient>((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${cfg.mqttPort}`, { clientId: d.id, username: d.id, password: d.secret, clean: true, reconnectPeriod: 500 });
      c.once("connect", () => resolve(c));
      c.once("error", reject);
    })));

    await hooks.beforePublish?.({ stack: bench, site: SITE, spaces: dpus.map((d) => d.space) });

    const influx = influxClient(cfg.influxUrl!, cfg.influxDb);
    const queryable = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
    let sampling = true;
    let latest: { space: string; ts: number; sentAt: number } | undefined;
    const sampler = (async () => {
      while (sampling) {
        const s = latest;
        latest = undefined;
        if (!s) { await new Promise((r) => setTimeout(r, 50)); continue; }
        for (let tries = 0; tries < 1500; tries++) {
          const rows = await influx.query(`SELECT "count" FROM "occupancy" WHERE "site" = '${SITE}' AND "space" = '${s.space}' AND time = ${s.ts}ms`);
          if (rows.length > 0) { queryable.recordValue(Math.max(1, Date.now() - s.sentAt)); break; }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    const cpuStart = stackCpu(bench.pids);
    const seqs = dpus.map(() => 0);
    const lastTs = dpus.map(() => 0);
    const sentPerDpu = dpus.map(() => 0);
    let sent = 0, acked = 0, dupsSent = 0;
    const start = Date.now();
    const total = RATE * SECONDS;
    const tickMs = 10;
    console.error(`publishing ${total} crossings from ${DPUS} DPUs at ${RATE}/s for ${SECONDS} s ...`);
    await new Promise<void>((resolve) => {
      let i = 0;
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * RATE));
        while (sent < due) {
          const k = i++ % DPUS;
          const d = dpus[k]!;
          const ts = Math.max(Date.now(), lastTs[k]! + 1);
          lastTs[k] = ts;
          const ev = { id: `e${++seqs[k]!}`, ts, doorway: d.doorway, delta: 1 };
          const sentAt = Date.now();
          pending[k]!.push({ ts, sentAt });
          latest = { space: d.space, ts, sentAt };
          sentPerDpu[k]!++;
          sent++;
          const payload = JSON.stringify(ev);
          clients[k]!.publish(deviceTopic(SITE, "dpu", d.id, "crossing"), payload, { qos: 1 }, () => { acked++; ackLat.recordValue(Math.max(1, Date.now() - sentAt)); });
          if (Math.random() < DUP) { dupsSent++; clients[k]!.publish(deviceTopic(SITE, "dpu", d.id, "crossing"), payload, { qos: 1 }); }
        }
        if (sent >= total) { clearInterval(timer); resolve(); }
      }, tickMs);
    });
    const publishEnd = Date.now();
    sampling = false;
    await sampler;
    const deadline = Date.now() + 120_000;
    while (delivered < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const endToEndSeconds = ((lastDeliveredAt || Date.now()) - start) / 1000;
    const cpuEnd = stackCpu(bench.pids);

    // lost / doubled: final counts in InfluxDB against what was sent (distinct events)
    await new Promise((r) => setTimeout(r, 1000));
    const { lost, doubled } = await lostAndDoubled(influx, SITE, dpus, sentPerDpu);

    const fig: IngestFigures = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
      dpus: DPUS, hosts: HOSTS, target_rate: RATE,
      crossings_sent: sent, duplicates_sent: dupsSent, acked,
      publish_rate_per_s: Math.round(sent / ((publishEnd - start) / 1000)),
      sustained_crossings_per_s: Math.round(delivered / endToEndSeconds),
      puback_ms: { p50: ackLat.getValueAtPercentile(50), p99: ackLat.getValueAtPercentile(99) },
      end_to_end_ms: { p50: e2e.getValueAtPercentile(50), p99: e2e.getValueAtPercentile(99), max: e2e.maxValue },
      queryable_ms: { samples: queryable.totalCount, p50: queryable.getValueAtPercentile(50), p99: queryable.getValueAtPercentile(99) },
      delivered, lost, doubled,
      cpu_s_per_10k: cpuPer10k(cpuStart, cpuEnd, sent),
    };

    await hooks.beforeStop?.();
    for (const c of clients) c.end(true);
    sub.unsubscribe();
    await nc.close();
    return fig;
  }
}
