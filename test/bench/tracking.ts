/**
 * Tracking accuracy benchmark (a script, not a test): the simulated camera mall through the whole
 * stack (MQTT -> aedes -> JetStream -> camera / linker / person / zone actors -> InfluxDB -> HTTP
 * API) for a fixed seed, then MOTA / IDF1 per camera and across cameras, the "upper=blue" path
 * query's precision and recall, the mean distance walked and camera-based zone occupancy against
 * the simulator's ground truth (definitions: test/accuracy/).
 *
 *   npx tsx test/bench/tracking.ts [--walkers 300] [--minutes 15] [--seed 7] [--fps 5] [--in-process]
 *
 * --in-process runs the same actors in this process without services (test/accuracy/in-process-run.ts):
 * the same figures, faster, for tuning.
 */
import os from "node:os";
import { Command } from "commander";
import { connectNats } from "../../infra/nats.ts";
import { startTestStack } from "../support/stack.ts";
import { runTrackingScenario } from "../e2e/tracking-scenario.ts";
import { runInProcess } from "../accuracy/in-process-run.ts";

const o = new Command()
  .option("--walkers <n>", "walkers arriving during the run", "300")
  .option("--minutes <n>", "simulated minutes", "15")
  .option("--seed <n>", "simulator seed", "7")
  .option("--fps <n>", "camera frame rate", "5")
  .option("--in-process", "run the actors in this process, without services")
  .parse()
  .opts<{ walkers: string; minutes: string; seed: string; fps: string; inProcess?: boolean }>();
const walkers = Number(o.walkers), minutes = Number(o.minutes), seed = Number(o.seed), fps = Number(o.fps);
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
const t0 = performance.now();

if (o.inProcess) {
  const r = await runInProcess({ walkers, durationMs: minutes * 60_000, startTs: Date.UTC(2026, 10, 23, 10), seed, fps, title: `in process: ${walkers} walkers, ${minutes} simulated minutes, seed ${seed}` });
  console.log(r.figures.report);
} else {
  // one partition: at this speed several would drift apart further than the linker's merge holds (see test/e2e/tracking.test.ts)
  const stack = await startTestStack({ hosts: 1, partitions: 1, overrides: { linkerWaitMs: 30 * 60_000 } });
  const nc = await connectNats(stack.cfg.natsUrl!, "tracking");
  try {
    const run = await runTrackingScenario(stack, nc, { walkers, minutes, seed, fps });
    console.log(run.figures.report);
    console.log(`\n${run.sim.frames} frames (${run.sim.detections} detections, ${run.sim.duplicatesSent} re-sent, ${run.sim.lateFrames} in late batches) published in ${(run.sim.realMs / 1000).toFixed(1)} s; ${run.lateFrames} frames too late to track`);
  } finally {
    await nc.close();
    await stack.stop();
  }
}
console.log(`machine: ${machine}; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
