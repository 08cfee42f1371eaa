import { readFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { DEFAULT_SCORE } from "../../models/detector-defaults.ts";
import { ConfigError, DEFAULTS, loadConfig, readVariable, type Config } from "../config.ts";
import { exitOnSignal } from "../process.ts";
import { redactUrl } from "../service-secrets.ts";
import { addAgentCommands } from "./agent-command.ts";

/** package.json's version: the one release number of the whole system */
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/** The footfall CLI: each command's body lives in its own module, loaded on demand. */
const program = new Command("footfall")
  .description("people-flow analytics for buildings")
  .version(version)
  // a command's options are its own: `footfall agent detect --camera …` is not `agent`'s --camera
  .enablePositionalOptions()
  .showHelpAfterError();

/** `read`'s configuration; a bad variable exits 2 with its name and the reason */
function configured<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof ConfigError) { console.error(e.message); process.exit(2); }
    throw e;
  }
}

const config = (): Config => configured(() => loadConfig());

/** Runs a long-lived process until SIGTERM / SIGINT, then its clean stop. */
async function runUntilSignal(start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const running = await start();
  exitOnSignal(() => running.stop());
}

program.command("up")
  .description("start services, broker, actor host and API (Ctrl-C stops everything)")
  .option("--demo", "also run a simulated mall (DPUs over MQTT, walkers in real time)")
  .option("--nodes <n>", "nats-server nodes: 1, or a JetStream cluster of 3 or more on this machine (streams and buckets with 3 replicas)", "1")
  .action(async (o: { demo?: boolean; nodes: string }) => {
    const nodes = Number(o.nodes);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes === 2 || nodes > 5) {
      console.error("--nodes: 1, or 3 to 5 (a JetStream cluster needs a majority: 2 nodes survive no loss)");
      process.exit(2);
    }
    const { runStack } = await import("../stack/stack.ts");
    await runStack(config(), { demo: Boolean(o.demo), nodes });
  });

program.command("broker").description("the MQTT edge broker and its JetStream bridge").action(async () => {
  const { runBroker } = await import("../../broker/main.ts");
  const cfg = config();
  await runUntilSignal(() => runBroker(cfg));
});

program.command("host").description("an actor host (run several to share the partitions)").action(async () => {
  const { runActorHost } = await import("../../actors/host-process.ts");
  const cfg = config();
  await runUntilSignal(() => runActorHost(cfg));
});

program.command("api").description("the HTTP API").action(async () => {
  const { runApi } = await import("../../api/main.ts");
  const cfg = config();
  await runUntilSignal(() => runApi(cfg));
});

program.command("gateway")
  .description("the live feed alone (websocket /api/v1/live, /healthz, /metrics); run several behind a balancer")
  .action(async () => {
    const { runGateway } = await import("../../dashboards/gateway/main.ts");
    const cfg = config();
    await runUntilSignal(() => runGateway(cfg));
  });

program.command("config")
  .description("print the effective configuration (defaults, then environment) as JSON")
  .option("--docs <file>", "instead, write the variable table into this Markdown file (between its config markers)")
  .action(async (o: { docs?: string }) => {
    if (o.docs) {
      const fs = await import("node:fs");
      const { withConfigTable } = await import("../config-table.ts");
      fs.writeFileSync(o.docs, withConfigTable(fs.readFileSync(o.docs, "utf8")));
      return;
    }
    const cfg = config();
    // secrets are not printed
    const hidden = (v: string | undefined) => (v === undefined ? undefined : "(set)");
    process.stdout.write(JSON.stringify({
      ...cfg,
      ...(cfg.natsUrl ? { natsUrl: redactUrl(cfg.natsUrl) } : {}), ...(cfg.influxUrl ? { influxUrl: redactUrl(cfg.influxUrl) } : {}),
      adminToken: cfg.adminToken === DEFAULTS.adminToken ? "(the default: set your own)" : "(set)",
      videoUrlSecret: hidden(cfg.videoUrlSecret), cameraSecret: hidden(cfg.cameraSecret),
    }, null, 2) + "\n");
  });

program.command("sim")
  .description("run a simulated building against a running stack, then compare every count with ground truth")
  .option("--api <url>", "API base URL", "")
  .option("--mqtt <url>", "MQTT URL", "")
  .option("--site <id>", "site id", "sim-mall")
  .option("--walkers <n>", "walkers", "200")
  .option("--minutes <n>", "simulated minutes", "10")
  .option("--duplicates <rate>", "share of events sent twice", "0.05")
  .option("--skew <ms>", "largest device clock skew", "300")
  .option("--seed <n>", "random seed", "1")
  .option("--outage <device:from-to>", "take a DPU offline from..to simulated minutes, e.g. dpu-main-entrance:2-5")
  .action(async (o: Record<string, string>) => {
    const { runSimCommand } = await import("../../firmware-sim/sim-command.ts");
    const cfg = config();
    const ok = await runSimCommand(cfg, {
      apiUrl: o.api || `http://127.0.0.1:${cfg.httpPort}`,
      mqttUrl: o.mqtt || `mqtt://127.0.0.1:${cfg.mqttPort}`,
      site: o.site!, walkers: Number(o.walkers), minutes: Number(o.minutes), duplicateRate: Number(o.duplicates),
      maxSkewMs: Number(o.skew), seed: Number(o.seed), ...(o.outage ? { outage: o.outage } : {}),
    });
    process.exit(ok ? 0 : 1);
  });

program.command("detect")
  .description("run the person detector and garment colours on a video, image or URL; one JSON line per processed frame")
  .argument("<file>", "video or image file (or a URL ffmpeg can read)")
  .option("--fps <n>", "frames per second of source time (default 5)")
  .option("--every <n>", "every n-th source frame instead of --fps")
  .option("--threads <n>", "ONNX Runtime intra-op threads", "2")
  .option("--score <n>", "score threshold (the camera's default)", String(DEFAULT_SCORE))
  .option("--max-frames <n>", "stop after n sampled frames")
  .option("--duration <s>", "stop after s seconds of source time")
  .option("--start <s>", "start s seconds into the source")
  .option("--motion [fraction]", "skip frames with less changed area than this (default 0.005)")
  .option("--max-skip <n>", "with --motion: process at least every n+1-th frame (default 10)")
  .option("--no-progress", "no progress bar on stderr")
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2))
  .action(async (file: string, o: Record<string, string | boolean>) => {
    const { runDetect } = await import("./detect-command.ts");
    process.exit(await runDetect(file, o));
  });

// the camera agent's processes need only the data folder of the configuration
addAgentCommands(program, () => configured(() => path.resolve(readVariable("dataDir"))));

await program.parseAsync(process.argv);
