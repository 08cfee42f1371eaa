/**
 * One MQTT broker of test/bench/broker.ts in a process of its own (so that its CPU time is its
 * own): `plain` is aedes with no hooks at all, `footfall` is startMqttBroker against the NATS
 * server at --nats (provisioned and its devices registered by the bench). Prints "port <n>" on
 * stdout once listening; stops on SIGTERM. With --root, footfall's broker is the one of another
 * checkout (an earlier commit, for a before/after comparison in one run).
 */
import net from "node:net";
import type { AddressInfo } from "node:net";
import { Aedes } from "aedes";
import { Command } from "commander";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const o = new Command()
  .requiredOption("--kind <kind>", "plain | footfall")
  .option("--nats <url>", "NATS server (footfall)")
  .option("--root <dir>", "the footfall checkout whose broker runs (footfall; default: this one)")
  .parse()
  .opts<{ kind: "plain" | "footfall"; nats?: string; root?: string }>();

const root = path.resolve(o.root ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", ".."));
const from = async <T>(file: string) => (await import(pathToFileURL(path.join(root, file)).href)) as T;

let stop: () => Promise<void>;
if (o.kind === "plain") {
  const aedes = await Aedes.createBroker();
  const server = net.createServer((socket) => aedes.handle(socket));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  console.log(`port ${(server.address() as AddressInfo).port}`);
  stop = async () => {
    await new Promise<void>((r) => aedes.close(() => r()));
    server.close();
  };
} else {
  const { loadConfig } = await from<typeof import("../../infra/config.ts")>("infra/config.ts");
  const { createLogger } = await from<typeof import("../../infra/log.ts")>("infra/log.ts");
  const { connectNats } = await from<typeof import("../../infra/nats.ts")>("infra/nats.ts");
  const { DeviceRegistry } = await from<typeof import("../../topology/devices/device-registry.ts")>("topology/devices/device-registry.ts");
  const { startMqttBroker } = await from<typeof import("../../broker/mqtt-broker.ts")>("broker/mqtt-broker.ts");
  const cfg = loadConfig({ natsUrl: o.nats!, logLevel: "warn" });
  const log = createLogger("broker", "warn");
  const nc = await connectNats(o.nats!, "bench-broker", log);
  const registry = await DeviceRegistry.open(nc, log);
  const broker = await startMqttBroker({
    host: "127.0.0.1", port: 0, nc, registry, partitions: cfg.partitions, maxPayloadBytes: cfg.maxPayloadBytes, log,
  });
  console.log(`port ${broker.port}`);
  stop = async () => {
    await broker.close();
    registry.close();
    await nc.drain();
  };
}
process.once("SIGTERM", () => { void stop().then(() => process.exit(0)); });
