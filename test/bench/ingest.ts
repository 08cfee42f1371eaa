/**
 * Ingest benchmark (a script, not a test): N simulated DPUs → aedes broker → JetStream →
 * actor host → InfluxDB. Prints crossings/s sustained, end-to-end latency p50/p99, lost and
 * doubled counts (the measurement is runIngest in ./ingest-run.ts).
 *
 *   npx tsx test/bench/ingest.ts [--dpus 50] [--rate 5000] [--seconds 20] [--hosts 1] [--dup 0.01] [--profile dir]
 *
 * Exits 1 when a crossing was lost or doubled.
 */
import { Command } from "commander";
import { runIngest } from "./ingest-run.ts";

const opts = new Command()
  .option("--dpus <n>", "simulated DPUs", "50")
  .option("--rate <n>", "target crossings per second (all DPUs together)", "5000")
  .option("--seconds <n>", "how long to publish", "20")
  .option("--hosts <n>", "actor host processes", "1")
  .option("--dup <rate>", "share of events sent twice", "0.01")
  .option("--profile <dir>", "write V8 CPU profiles of the broker and actor host processes into this folder")
  .parse()
  .opts<{ dpus: string; rate: string; seconds: string; hosts: string; dup: string; profile?: string }>();

const fig = await runIngest({
  dpus: Number(opts.dpus), rate: Number(opts.rate), seconds: Number(opts.seconds), hosts: Number(opts.hosts), dup: Number(opts.dup),
  profileDir: opts.profile,
});
console.log(JSON.stringify(fig, null, 2));
process.exit(fig.lost === 0 && fig.doubled === 0 ? 0 : 1);
