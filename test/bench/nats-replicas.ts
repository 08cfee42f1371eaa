/**
 * Do a replicated stream's copies still hold every acknowledged message after nats-servers are
 * SIGKILLed? (a script, not a test; no footfall code in the path: the Debian nats-server and the
 * JetStream client alone.) Per trial: a three-node cluster of real nats-servers on loopback (each
 * supervised: a killed one is started again on its store), a stream with 3 replicas, publishers
 * that retry each publish with the same Nats-Msg-Id until it is acknowledged (as footfall's broker
 * and actor hosts do); after 3 s the stream leader is SIGKILLed, 4 s after its restart the new
 * leader, and 4 s later the publishers stop. Then every node is made leader in turn and its copy
 * read whole: per copy, how many messages it holds, how many acknowledged ones it lacks, how many
 * it holds twice, and the first position where it differs from the first copy read.
 * Prints one block per trial and a closing JSON object; exits 1 when, in any trial, the copies
 * differ (other messages at the same position) or one lacks an acknowledged message.
 *
 *   npx tsx test/bench/nats-replicas.ts [--trials 6] [--publishers 32] [--dup 0]
 */
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Command } from "commander";
import { sleep } from "../../infra/backoff.ts";
import { connectNats } from "../../infra/nats.ts";
import { retry } from "../support/retry.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { readSubject } from "../support/stream-read.ts";

const opts = new Command()
  .option("--trials <n>", "clusters made and killed", "6")
  .option("--publishers <n>", "concurrent publishers", "32")
  .option("--dup <share>", "share of publishes that repeat an id already acknowledged (as devices' duplicates do)", "0")
  .parse()
  .opts<{ trials: string; publishers: string; dup: string }>();
const TRIALS = Number(opts.trials), PUBLISHERS = Number(opts.publishers), DUP = Number(opts.dup);
const STREAM = "REPLICA_PROBE";

type Node = NonNullable<TestServices["natsCluster"]>["nodes"][number];

async function leaderNode(s: TestServices, jsm: JetStreamManager): Promise<Node> {
  for (let i = 0; i < 100; i++) {
    const leader = (await retry(() => jsm.streams.info(STREAM))).cluster?.leader;
    const node = s.natsCluster!.nodes.find((n) => n.serverName === leader);
    if (node) return node;
    await sleep(200);
  }
  throw new Error("the stream elected no leader");
}

/** Every node's copy of the stream (each made leader in turn): node -> ids in stream order. */
async function copies(nc: NatsConnection, jsm: JetStreamManager, nodes: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < 4 * nodes && out.size < nodes; i++) {
    const before = (await retry(() => jsm.streams.info(STREAM))).cluster?.leader;
    if (before && !out.has(before)) {
      // a read that failed (its consumer's node stepping down) is tried again at the node's next turn
      const ids = await readSubject(nc, STREAM, "probe.>").then((ms) => ms.map((m) => m.string()), () => undefined);
      // a copy read while the leadership moved is not one node's
      if (ids && (await retry(() => jsm.streams.info(STREAM))).cluster?.leader === before) out.set(before, ids);
    }
    await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${STREAM}`, undefined, { timeout: 5000 }).catch(() => undefined);
    await sleep(2500);
  }
  return out;
}

const results: Array<{ acked: number; copies: Array<{ node: string; held: number; lacking: number; twice: number; differs: boolean }> }> = [];
for (let trial = 1; trial <= TRIALS; trial++) {
  const s = await startTestServices({ influx: false, natsNodes: 3 });
  const nc = await connectNats(s.natsUrl, "replica-probe");
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    await retry(() => jsm.streams.add({ name: STREAM, subjects: ["probe.>"], num_replicas: 3, duplicate_window: 120_000_000_000 }));
    const js = jetstream(nc, { timeout: 2000 });
    const acked = new Set<string>();
    const order: string[] = [];
    let stop = false, next = 0, retries = 0;
    const publisher = async () => {
      while (!stop) {
        const repeat = DUP > 0 && order.length > 50 && Math.random() < DUP;
        const id = repeat ? order[order.length - 1 - Math.floor(Math.random() * 50)]! : `m${next++}`;
        for (let attempt = 0; attempt < 100; attempt++) {
          try {
            await js.publish(`probe.${next % 7}`, id, { msgID: id });
            if (!acked.has(id)) { acked.add(id); order.push(id); }
            break;
          } catch {
            retries++;
            await sleep(50 + Math.random() * 100);
          }
        }
      }
    };
    const running = Array.from({ length: PUBLISHERS }, publisher);
    await sleep(3000);
    const first = await leaderNode(s, jsm);
    await first.kill();
    await first.service.whenReady();
    await sleep(4000);
    const second = await leaderNode(s, jsm);
    await second.kill();
    await second.service.whenReady();
    await sleep(4000);
    stop = true;
    await Promise.all(running);
    await sleep(5000);
    const held = await copies(nc, jsm, s.natsCluster!.nodes.length);
    const ref = [...held.values()][0] ?? [];
    const lines: string[] = [];
    const trialCopies: (typeof results)[number]["copies"] = [];
    for (const [node, ids] of held) {
      const set = new Set(ids);
      const lacking = [...acked].filter((id) => !set.has(id)).length;
      const twice = ids.length - set.size;
      const differs = ids.findIndex((id, i) => id !== ref[i]);
      trialCopies.push({ node, held: ids.length, lacking, twice, differs: differs >= 0 || ids.length !== ref.length });
      lines.push(`${node}: ${ids.length} messages, ${lacking} acknowledged ones lacking, ${twice} held twice` +
        (differs >= 0 ? `, differs from ${[...held.keys()][0]} from position ${differs}` : ids.length > ref.length ? `, ${ids.length - ref.length} more at the end` : ids.length < ref.length ? `, ${ref.length - ids.length} fewer at the end` : ""));
    }
    results.push({ acked: acked.size, copies: trialCopies });
    console.log(`trial ${trial}: killed leaders ${first.serverName}, then ${second.serverName}; ${acked.size} acknowledged, ${retries} publishes retried; copies read: ${held.size} of 3\n  ${lines.join("\n  ")}`);
  } finally {
    await nc.close();
    await s.stop();
  }
}
const lacking = results.filter((r) => r.copies.some((c) => c.lacking > 0));
const differing = results.filter((r) => r.copies.some((c) => c.differs));
console.log(JSON.stringify({
  nats: "nats-server as installed", trials: TRIALS, publishers: PUBLISHERS, dup: DUP,
  trialsWithCopiesThatDiffer: differing.length,
  trialsWithACopyLackingAcknowledged: lacking.length,
  mostLackingInOneCopy: Math.max(0, ...results.flatMap((r) => r.copies.map((c) => c.lacking))),
  copiesNotRead: results.reduce((n, r) => n + 3 - r.copies.length, 0),
}, null, 2));
process.exit(differing.length > 0 || lacking.length > 0 ? 1 : 0);
