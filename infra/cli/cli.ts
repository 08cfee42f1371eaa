import { readFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { DEFAULT_SCORE } from "../../models/detector-defaults.ts";
import { ConfigError, DEFAULTS, checkAdminToken, loadConfig, readVariable, type Config } from "../config.ts";
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
/** the configuration of a process that accepts the admin token: the built-in one only on loopback */
const serving = (): Config => configured(() => { const cfg = loadConfig(); checkAdminToken(cfg); return cfg; });

/** As `configured`, for a start-up that reads more of the configuration (e.g. the TLS files) */
async function configuredAsync<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof ConfigError) { console.error(e.message); process.exit(2); }
    throw e;
  }
}

/** Runs a long-lived process until SIGTERM / SIGINT, then its clean stop. */
async function runUntilSignal(start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const running = await start();
  exitOnSignal(() => running.stop());
}

program.command("up")
  .description("start services, broker, actor host and API (Ctrl-C stops everything)")
  .option("--demo", "also run a simulated mall (DPUs over MQTT, walkers in real time)")
  .option("--tls", "MQTT over TLS and HTTPS only; without FOOTFALL_TLS_CERT / FOOTFALL_TLS_KEY a self-signed pair is made under {data dir}/tls")
  .option("--nodes <n>", "nats-server nodes: 1, or a JetStream cluster of 3 or more on this machine (streams and buckets with 3 replicas)", "1")
  .action(async (o: { demo?: boolean; tls?: boolean; nodes: string }) => {
    const nodes = Number(o.nodes);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes === 2 || nodes > 5) {
      console.error("--nodes: 1, or 3 to 5 (a JetStream cluster needs a majority: 2 nodes survive no loss)");
      process.exit(2);
    }
    const { runStack } = await import("../stack/stack.ts");
    const cfg = serving();
    await configuredAsync(() => runStack(cfg, { demo: Boolean(o.demo), tls: Boolean(o.tls), nodes }));
  });

program.command("tls")
  .description("TLS helpers")
  .command("self-signed")
  .description("write a self-signed certificate and key (SAN 127.0.0.1, ::1, localhost and --host) for FOOTFALL_TLS_CERT / FOOTFALL_TLS_KEY")
  .option("--dir <dir>", "where cert.pem and key.pem go (default: {data dir}/tls)")
  .option("--host <name...>", "more names or addresses the certificate is for")
  .option("--force", "replace an existing pair")
  .action(async (o: { dir?: string; host?: string[]; force?: boolean }) => {
    const { writeSelfSigned } = await import("../tls.ts");
    const dir = path.resolve(o.dir ?? path.join(config().dataDir, "tls"));
    const pair = await writeSelfSigned(dir, { hosts: o.host ?? [], force: Boolean(o.force) });
    process.stdout.write([
      pair.created ? `wrote ${pair.cert} and ${pair.key}` : `kept the existing ${pair.cert} and ${pair.key} (--force replaces them)`,
      `  export FOOTFALL_TLS_CERT=${pair.cert} FOOTFALL_TLS_KEY=${pair.key} FOOTFALL_TLS_CA=${pair.cert}`,
      `  clients: curl --cacert ${pair.cert} ...   mosquitto_pub --cafile ${pair.cert} -p 8883 ...`,
      "",
    ].join("\n"));
  });

program.command("broker").description("the MQTT edge broker and its JetStream bridge").action(async () => {
  const { runBroker } = await import("../../broker/main.ts");
  const cfg = config();
  await configuredAsync(() => runUntilSignal(() => runBroker(cfg)));
});

program.command("host").description("an actor host (run several to share the partitions)").action(async () => {
  const { runActorHost } = await import("../../actors/host-process.ts");
  const cfg = config();
  await runUntilSignal(() => runActorHost(cfg));
});

program.command("api").description("the HTTP API").action(async () => {
  const { runApi } = await import("../../api/main.ts");
  const cfg = serving();
  await configuredAsync(() => runUntilSignal(() => runApi(cfg)));
});

program.command("gateway")
  .description("the live feed alone (websocket /api/v1/live, /healthz, /metrics); run several behind a balancer")
  .action(async () => {
    const { runGateway } = await import("../../dashboards/gateway/main.ts");
    const cfg = serving();
    await configuredAsync(() => runUntilSignal(() => runGateway(cfg)));
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
  .option("--mqtt <urls>", "MQTT broker URL, or several separated by commas (the DPUs fail over between them)", "")
  .option("--site <id>", "site id", "sim-mall")
  .option("--walkers <n>", "walkers", "200")
  .option("--minutes <n>", "simulated minutes", "10")
  .option("--duplicates <rate>", "share of events sent twice", "0.05")
  .option("--skew <ms>", "largest device clock skew", "300")
  .option("--seed <n>", "random seed", "1")
  .option("--outage <device:from-to>", "take a DPU offline from..to simulated minutes, e.g. dpu-main-entrance:2-5")
  .option("--ca <file>", "PEM CA the API's and broker's TLS certificates must verify against (default FOOTFALL_TLS_CA)")
  .action(async (o: Record<string, string>) => {
    const { runSimCommand } = await import("../../firmware-sim/sim-command.ts");
    const cfg = config();
    // with FOOTFALL_TLS_CERT set the stack serves only https:// and mqtts://
    const tls = Boolean(cfg.tlsCert && cfg.tlsKey);
    const ca = o.ca || cfg.tlsCa;
    const ok = await runSimCommand(cfg, {
      apiUrl: o.api || (tls ? `https://127.0.0.1:${cfg.httpPort}` : `http://127.0.0.1:${cfg.httpPort}`),
      mqttUrl: o.mqtt || (tls ? `mqtts://127.0.0.1:${cfg.mqttsPort}` : `mqtt://127.0.0.1:${cfg.mqttPort}`),
      ...(ca ? { ca } : {}),
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
