/**
 * Runs a benchmark script several times, each in a fresh process with its own services, and
 * prints every figure of its closing JSON object as the median with the range over the runs:
 * one machine's run-to-run spread is large, so a single run says little.
 *
 *   npx tsx test/bench/repeat.ts [--runs 3] -- test/bench/ingest.ts --rate 5000 --seconds 30
 *
 * Exits non-zero when any run did (a bench exits 1 when something was lost or doubled).
 */
import { spawnSync } from "node:child_process";
import { Command } from "commander";
import { summarise, type Figures } from "./summary.ts";

const program = new Command().option("--runs <n>", "runs (at least 3 for a median worth stating)", "3").argument("<script...>").parse();
const runs = Number(program.opts<{ runs: string }>().runs);
const [script, ...args] = program.args as [string, ...string[]];

/** The last top-level JSON object a run printed. */
function lastJson(stdout: string): Figures {
  const start = stdout.lastIndexOf("\n{");
  const text = start >= 0 ? stdout.slice(start + 1) : stdout.slice(stdout.indexOf("{"));
  return JSON.parse(text.slice(0, text.lastIndexOf("}") + 1)) as Figures;
}

const results: Figures[] = [];
let failed = 0;
for (let i = 1; i <= runs; i++) {
  process.stderr.write(`run ${i} of ${runs}: ${script} ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
  if (r.status !== 0) failed++;
  results.push(lastJson(r.stdout));
}

console.log(JSON.stringify({ runs, failed_runs: failed, script: [script, ...args].join(" "), figures: summarise(results) }, null, 2));
process.exit(failed === 0 ? 0 : 1);
