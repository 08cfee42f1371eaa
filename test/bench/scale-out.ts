/**
 * Scale-out benchmark (a script, not a test): the three-node cluster in network namespaces (needs
 * root; test/chaos/cluster-lab.ts) with actor hosts running on 3, then 2, then 1 of the nodes, every
 * node's broker taking a third of the DPUs. Each run publishes crossings at `--rate` (above what
 * the stack sustains, so the figure is its ceiling) for `--seconds` to a site of its own and
 * reports the crossings/s delivered (publish of the first → the occupancy.changed event covering
 * the last), lost and doubled. Prints each host count's median and range over `--runs`, and its
 * ratio to one host.
 *
 *   npx tsx test/bench/scale-out.ts [--rate 8000] [--seconds 20] [--dpus 60] [--runs 3] [--partitions 12]
 *
 * All three nodes share this machine's cores, so this does not show the gain of more machines:
 * it shows what spreading the actors over several event loops (one core each at most) gives on
 * one machine, coordination included. Exits 1 when anything was lost or doubled.
 */
import { Command } from "commander";
import mqtt from "mqtt";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { canMakeNamespaces } from "../support/netns.ts";
import { eventually } from "../support/retry.ts";
import { HOST_OPS_PORT, startClusterLab } from "../chaos/cluster-lab.ts";
import { benchDpus, dpuTopology, lostAndDoubled } from "./dpu-site.ts";

const opts = new Command()
  .option("--rate <n>", "crossings offered per second (all DPUs together)", "8000")
  .option("--seconds <n>", "how long each run publishes", "20")
  .option("--dpus <n>", "simulated DPUs", "60")
  .option("--runs <n>", "runs per host count (median and range printed)", "3")
  .option("--partitions <n>", "actor partitions (12 shares evenly over 1, 2 and 3 hosts)", "12")
  .parse()
  .opts<{ rate: string; seconds: string; dpus: string; runs: string; partitions: string }>();
const RATE = Number(opts.rate), SECONDS = Number(opts.seconds), DPUS = Number(opts.dpus), RUNS = Number(opts.runs), PARTITIONS = Number(opts.partitions);

if (!(await canMakeNamespaces())) {
  console.error("scale-out bench: needs root and iproute2 (network namespaces)");
  process.exit(2);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const lab = await startClusterLab({ partitions: PARTITIONS });
const nc = await connectNats(lab.natsUrls, "scale-out");
const influx = influxClient(lab.services.influxUrl, lab.cfg.influxDb);
let failed = false;

/** waits until the running hosts own every partition between them, evenly */
async function balanced(hosts: number): Promise<void> {
  await eventually(`partitions shared by ${hosts} host(s)`, async () => {
    const owned = await Promise.all(lab.machines.slice(0, hosts).map(async (m) => {
      const r = await fetch(`http://${m.node.ip}:${HOST_OPS_PORT}/healthz`, { signal: AbortSignal.timeout(1000) });
      return ((await r.json()) as { partitions?: number[] }).partitions?.length ?? 0;
    }));
    return owned.reduce((a, b) => a + b, 0) === PARTITIONS && Math.max(...owned) - Math.min(...owned) <= 1;
  }, 120_000, 500);
}

/** one run on its own site: crossings/s delivered, lost and doubled */
async function run(site: string): Promise<{ perS: number; lost: number; doubled: number }> {
  const dpus = benchDpus(DPUS, site);
  const put = await lab.admin("PUT", `/api/v1/sites/${site}/topology`, dpuTopology(dpus));
  if (put.status !== 200) throw new Error(`topology: ${put.status} ${await put.text()}`);
  await new Promise((r) => setTimeout(r, 1000)); // the brokers' registries follow KV

  // delivered: an occupancy.changed event with `at` covers every crossing of its space up to `at`
  const pending = dpus.map(() => [] as number[]);
  let delivered = 0, lastDeliveredAt = 0;
  const sub = nc.subscribe(`evt.occupancy.${site}.>`);
  void (async () => {
    for await (const m of sub) {
      const ev = m.json<{ space: string; at: number }>();
      const q = pending[Number(ev.space.slice("space-".length))]!;
      let n = 0;
      while (n < q.length && q[n]! <= ev.at) n++;
      if (n) { q.splice(0, n); delivered += n; lastDeliveredAt = Date.now(); }
    }
  })();

  const clients = await Promise.all(dpus.map((d, i) => new Promise<mqtt.MqttClient>((resolve, reject) => {
    const c = mqtt.connect(lab.mqttUrls[i % lab.mqttUrls.length]!, { clientId: d.id, username: d.id, password: d.secret, clean: true, reconnectPeriod: 500 });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  })));
  const sentPer = dpus.map(() => 0);
  const lastTs = dpus.map(() => 0);
  let sent = 0;
  const total = RATE * SECONDS;
  const start = Date.now();
  await new Promise<void>((resolve) => {
    let k = 0;
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * RATE));
      while (sent < due) {
        const i = k++ % DPUS;
        const d = dpus[i]!;
        const ts = Math.max(Date.now(), lastTs[i]! + 1);
        lastTs[i] = ts;
        pending[i]!.push(ts);
        sentPer[i]!++;
        sent++;
        clients[i]!.publish(deviceTopic(site, "dpu", d.id, "crossing"), JSON.stringify({ id: `e${sentPer[i]}`, ts, doorway: d.doorway, delta: 1 }), { qos: 1 });
      }
      if (sent >= total) { clearInterval(timer); resolve(); }
    }, 10);
  });
  const deadline = Date.now() + 180_000;
  while (delivered < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const perS = Math.round(delivered / (((lastDeliveredAt || Date.now()) - start) / 1000));
  sub.unsubscribe();
  for (const c of clients) c.end(true);

  // lost / doubled: the final counts against what was sent (once the last points are written)
  let check = await lostAndDoubled(influx, site, dpus, sentPer);
  for (let i = 0; i < 30 && check.lost + check.doubled > 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    check = await lostAndDoubled(influx, site, dpus, sentPer);
  }
  return { perS, ...check };
}

const figures: Record<string, { runs: number[]; median: number; min: number; max: number; vs_one_host: number }> = {};
try {
  // from 3 hosts down to 1: a stopped host hands its partitions back (no lease to wait out)
  for (const hosts of [3, 2, 1]) {
    for (let i = hosts; i < lab.machines.length; i++) await lab.machines[i]!.host.stop();
    await balanced(hosts);
    const runs: number[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const res = await run(`scale-h${hosts}-r${r}`);
      console.error(`${hosts} host(s), run ${r}: ${res.perS} crossings/s, lost ${res.lost}, doubled ${res.doubled}`);
      if (res.lost || res.doubled) failed = true;
      runs.push(res.perS);
    }
    figures[`hosts_${hosts}`] = { runs, median: median(runs), min: Math.min(...runs), max: Math.max(...runs), vs_one_host: 0 };
  }
  const one = figures.hosts_1!.median;
  for (const f of Object.values(figures)) f.vs_one_host = Math.round((f.median / one) * 100) / 100;
} finally {
  await nc.close();
  await lab.stop();
}
console.log(JSON.stringify({ offered_per_s: RATE, seconds: SECONDS, dpus: DPUS, partitions: PARTITIONS, crossings_per_s: figures, lost_or_doubled: failed }, null, 2));
process.exit(failed ? 1 : 0);
