import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { loadConfig } from "../../infra/config.ts";
import { createLogger } from "../../infra/log.ts";
import { createRegistry } from "../../infra/metrics.ts";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import { startServices, type RunningServices } from "../../infra/services/index.ts";
import { freePort } from "../support/ports.ts";
import { eventually } from "../support/retry.ts";

/** `footfall up`'s services (startServices) are supervised: SIGKILLed, they come back on the same data; stopped, they stay stopped. */
describe("service supervision (real nats-server and influxd, started as `footfall up` starts them)", () => {
  let dataDir: string;
  let services: RunningServices;
  const registry = createRegistry("test-supervision");
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-supervision-"));
    const cfg = loadConfig({ dataDir, natsPort: await freePort(), influxPort: await freePort(), logLevel: "warn" });
    services = await startServices(cfg, createLogger("test-supervision", "warn"), { registry });
  });
  afterAll(async () => {
    await services?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("restarts a SIGKILLed influxd on the same data and port", async () => {
    const influx = influxClient(services.influxUrl, "sup_t");
    await influx.createDatabase("sup_t");
    await influx.writePoints([{ measurement: "m", fields: { v: 42 }, timestamp: new Date("2026-01-01T00:00:00Z") }]);
    const before = services.influxd!.proc.child.pid;
    await services.influxd!.kill();
    expect(services.influxd!.proc.exited()).toBe(true);
    await services.influxd!.service.whenReady();
    expect(services.influxd!.proc.child.pid).not.toBe(before);
    expect((await fetch(`http://127.0.0.1:${services.influxd!.port}/ping`)).status).toBe(204);
    const rows = await influx.query<{ v: number }>(`SELECT v FROM m`);
    expect(rows.map((r) => r.v)).toEqual([42]);
    expect(services.influxd!.service.restarts).toBe(1);
  });

  it("restarts a SIGKILLed nats-server on the same store: a stream's messages are still there, clients reconnect", async () => {
    const nc = await connectNats(services.natsUrl, "test-supervision");
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "SUP", subjects: ["sup.>"] });
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish(`sup.${i}`, `m${i}`);
    await services.nats!.kill();
    await services.nats!.service.whenReady();
    await eventually("the stream after the restart", async () => (await (await jetstreamManager(nc, { timeout: 2000 })).streams.info("SUP")).state.messages === 5, 30_000);
    expect(services.nats!.service.restarts).toBe(1);
    await nc.close();
    const metrics = await registry.getSingleMetricAsString("footfall_service_restarts_total");
    expect(metrics).toMatch(/service="influxd"[^}]*\} 1/);
    expect(metrics).toMatch(/service="nats-server"[^}]*\} 1/);
  });

  it("keeps a stopped service stopped", async () => {
    await services.influxd!.stop();
    await new Promise((r) => setTimeout(r, 1500));
    expect(services.influxd!.proc.exited()).toBe(true);
    await expect(fetch(`http://127.0.0.1:${services.influxd!.port}/ping`)).rejects.toThrow();
    expect(services.influxd!.service.restarts).toBe(1);
  });
});
