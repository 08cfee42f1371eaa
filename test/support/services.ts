import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startInfluxd, type Influxd } from "../../infra/services/influxd.ts";
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from "../../infra/services/nats-server.ts";
import { freePort } from "./ports.ts";

/**
 * Real services for a test file: its own nats-server (JetStream) and/or influxd on free
 * loopback ports, data in a fresh temp folder. Each test file gets its own, so files can run
 * in parallel and a test may kill and restart its nats-server on the same store.
 * Both require credentials (generated into {dataDir}/secrets); natsUrl and influxUrl carry them:
 * connect with connectNats(natsUrl) and influxClient / influxOptions / influxHttp(influxUrl).
 */
export interface TestServices {
  dataDir: string;
  natsUrl: string;
  natsPort: number;
  influxUrl: string;
  influxPort: number;
  nats?: NatsServer;
  /** with natsNodes 3: the cluster (natsUrl lists its nodes; nats is its first node) */
  natsCluster?: NatsCluster;
  /** replicas for provisionNats: 3 on the cluster, else undefined */
  replicas?: number;
  influxd?: Influxd;
  /** SIGKILL nats-server and start it again on the same port and store. */
  restartNats(opts?: { downMs?: number }): Promise<void>;
  /** SIGKILL influxd (it stays down until startInflux). */
  killInflux(): Promise<void>;
  /** Start influxd again on the same ports and data folder. */
  startInflux(): Promise<void>;
  stop(): Promise<void>;
}

// vitest ends its worker processes with SIGTERM, which skips 'exit' handlers: turn it into an
// exit so the services started here are killed with the worker (infra/services/child-process.ts)
if (process.listenerCount("SIGTERM") === 0) process.once("SIGTERM", () => process.exit(143));

async function onFreePorts<T>(n: number, start: (ports: number[]) => Promise<T>): Promise<[number, T]> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    while (ports.length < n) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    try {
      return [ports[0]!, await start(ports)];
    } catch (e) {
      // (a cluster whose nodes never all met, so that no stream could be placed on all three, is
      // started again on other ports too: seen in back-to-back clusters of one process)
      if (attempt >= 5 || !/address already in use|a stream placed on/.test((e as Error).message)) throw e;
    }
  }
}

/**
 * `natsNodes: 3`: a three-node JetStream cluster on loopback instead of one nats-server, each node
 * supervised (a SIGKILLed node comes back on its store); natsUrl is the seed list.
 */
export async function startTestServices(opts: { nats?: boolean; influx?: boolean; natsNodes?: 1 | 3 } = {}): Promise<TestServices> {
  const wantNats = opts.nats ?? true;
  const wantInflux = opts.influx ?? true;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-test-"));
  // a port the kernel called free can be taken by a parallel test before our server binds it:
  // try again with new ports when that happens
  let natsCluster: NatsCluster | undefined;
  const [natsPort, nats] = await onFreePorts(opts.natsNodes === 3 ? 6 : 1, async (ports) => {
    if (!wantNats) return undefined;
    if (opts.natsNodes !== 3) return startNatsServer({ dataDir, port: ports[0]! });
    natsCluster = await startNatsCluster({ nodes: 3, dataDir, ports: ports.slice(0, 3), clusterPorts: ports.slice(3), supervise: true });
    return natsCluster.nodes[0];
  });
  let influx: [number, Influxd | undefined];
  try {
    influx = await onFreePorts(2, ([port, rpcPort]) => wantInflux ? startInfluxd({ dataDir, port: port!, rpcPort: rpcPort! }) : Promise.resolve(undefined));
  } catch (e) {
    await nats?.stop();
    throw e;
  }
  const [influxPort, influxd] = influx;
  const influxRpcPort = influxd ? influxd.rpcPort : 0;
  const s: TestServices = {
    dataDir,
    // with the credentials the services were started with (user:password@)
    natsUrl: natsCluster?.url ?? nats?.url ?? `nats://127.0.0.1:${natsPort}`,
    natsPort,
    influxUrl: influxd?.url ?? `http://127.0.0.1:${influxPort}`,
    influxPort,
    ...(nats ? { nats } : {}),
    ...(natsCluster ? { natsCluster, replicas: 3 } : {}),
    ...(influxd ? { influxd } : {}),
    async restartNats({ downMs = 500 } = {}) {
      if (s.natsCluster) throw new Error("restartNats is for one nats-server; kill a cluster node instead (it is supervised)");
      await s.nats?.kill();
      await new Promise((r) => setTimeout(r, downMs));
      s.nats = await startNatsServer({ dataDir, port: natsPort });
    },
    async killInflux() {
      await s.influxd?.kill();
      delete s.influxd;
    },
    async startInflux() {
      if (s.influxd) return;
      s.influxd = await startInfluxd({ dataDir, port: influxPort, rpcPort: influxRpcPort });
    },
    async stop() {
      await Promise.all([s.natsCluster ? s.natsCluster.stop() : s.nats?.stop(), s.influxd?.stop()]);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return s;
}
