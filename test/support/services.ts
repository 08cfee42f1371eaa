import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startInfluxd, type Influxd } from "../../infra/services/influxd.ts";
import { startNatsServer, type NatsServer } from "../../infra/services/nats-server.ts";
import { freePort } from "./ports.ts";

/**
 * Real services for a test file: its own nats-server (JetStream) and/or influxd on free
 * loopback ports, data in a fresh temp folder. Each test file gets its own, so files can run
 * in parallel and a test may kill and restart its nats-server on the same store.
 */
export interface TestServices {
  dataDir: string;
  natsUrl: string;
  natsPort: number;
  influxUrl: string;
  influxPort: number;
  nats?: NatsServer;
  influxd?: Influxd;
  /** SIGKILL nats-server and start it again on the same port and store. */
  restartNats(opts?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestServices(opts: { nats?: boolean; influx?: boolean } = {}): Promise<TestServices> {
  const wantNats = opts.nats ?? true;
  const wantInflux = opts.influx ?? true;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-test-"));
  const natsPort = await freePort();
  let influxPort = await freePort();
  // influxd also binds port+2 for its RPC; make sure that is free as well
  while (influxPort + 2 === natsPort) influxPort = await freePort();
  const [nats, influxd] = await Promise.all([
    wantNats ? startNatsServer({ dataDir, port: natsPort }) : undefined,
    wantInflux ? startInfluxd({ dataDir, port: influxPort }) : undefined,
  ]);
  const s: TestServices = {
    dataDir,
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    natsPort,
    influxUrl: `http://127.0.0.1:${influxPort}`,
    influxPort,
    ...(nats ? { nats } : {}),
    ...(influxd ? { influxd } : {}),
    async restartNats({ downMs = 500 } = {}) {
      await s.nats?.kill();
      await new Promise((r) => setTimeout(r, downMs));
      s.nats = await startNatsServer({ dataDir, port: natsPort });
    },
    async stop() {
      await Promise.all([s.nats?.stop(), s.influxd?.stop()]);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return s;
}
