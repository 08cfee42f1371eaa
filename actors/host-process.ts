import type { Registry } from "prom-client";
import { influxUrlOf, natsUrlOf, type Config } from "../infra/config.ts";
import { createLogger, type Logger } from "../infra/log.ts";
import { createRegistry } from "../infra/metrics.ts";
import { connectNats } from "../infra/nats.ts";
import { startOpsServer } from "../infra/ops-server.ts";
import { influxWriteClient, provisionInflux, provisionNats } from "../infra/provision.ts";
import { backoffMs, pause } from "../infra/backoff.ts";
import { footfallKinds, type KindsFactory } from "./kinds.ts";
import { startActorHost, type ActorHost } from "./runtime/actor-host.ts";

export interface RunningActorHost {
  host: ActorHost;
  /** port of /healthz and /metrics */
  opsPort: number;
  stop(): Promise<void>;
}

/** Retries a start-up step through transient failures (a NATS or InfluxDB that is still coming up). */
async function untilDone<T>(what: string, fn: () => Promise<T>, log: Logger, attempts = 40): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try { return await fn(); } catch (e) {
      if (attempt >= attempts) throw e;
      log.warn({ err: e, attempt }, `${what} failed; retrying`);
      await pause(backoffMs(attempt, 1000));
    }
  }
}

/**
 * The actor host process (`footfall host`; run several, they share the partitions): connects to
 * NATS and InfluxDB, provisions both, runs the actors of `kinds` (footfall's own by default) on
 * the partitions it holds (runtime/actor-host.ts) and serves /healthz (ok while NATS is connected
 * and InfluxDB writes have not failed for longer than FOOTFALL_INFLUX_UNHEALTHY_S; lists the owned
 * partitions and the InfluxDB backlog) and /metrics. stop(): final flush, checkpoint, leases released.
 */
export async function runActorHost(
  cfg: Config,
  kinds: KindsFactory = footfallKinds,
  opts: { hostId?: string; registry?: Registry } = {},
): Promise<RunningActorHost> {
  const log = createLogger("actor-host", cfg.logLevel);
  const registry = opts.registry ?? createRegistry("actor-host");
  const nc = await untilDone("connecting to NATS", () => connectNats(natsUrlOf(cfg), "footfall-actor-host", log), log);
  await untilDone("provisioning NATS", () => provisionNats(nc, cfg, log), log);
  const kindSet = await kinds({ cfg, nc, registry, log });
  // a client whose write in flight can be aborted (the points of a partition this host lost)
  const { influx, abortInFlight } = influxWriteClient(influxUrlOf(cfg), cfg.influxDb);
  // field types (integers stay integers) for the measurements the behaviours write
  for (const schema of kindSet.influxSchemas ?? []) influx.addSchema(schema);
  // InfluxDB is provisioned in the background: a host starting while InfluxDB is down consumes
  // (its points wait in the writer, bounded, and its checkpoints wait for them) and says so on /healthz
  let host: ActorHost | undefined;
  let stopped = false;
  const influxReady = (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        await provisionInflux(influx, cfg, log);
        return;
      } catch (e) {
        host?.noteInfluxFailure(e);
        if (attempt === 0 || attempt % 10 === 0) log.warn({ err: e, attempt }, "provisioning InfluxDB failed; retrying");
        await pause(backoffMs(attempt, 2000));
      }
    }
  })();
  host = await startActorHost({
    nc,
    influx,
    abortInfluxWrite: abortInFlight,
    behaviors: kindSet.behaviors,
    partitions: cfg.partitions,
    leaseTtlMs: cfg.leaseTtlMs,
    flushMs: cfg.flushMs,
    checkpointMs: cfg.checkpointMs,
    snapshotMs: cfg.snapshotMs,
    snapshotBytesPerMessage: cfg.snapshotBytesPerMessage,
    idleMs: cfg.idleMs,
    registry,
    log,
    maxPayloadBytes: cfg.maxPayloadBytes,
    influxUnhealthyMs: cfg.influxUnhealthyS * 1000,
    maxBufferedPoints: cfg.influxBufferPoints,
    influxReady,
    ...(opts.hostId ? { hostId: opts.hostId } : {}),
  });
  const running = host;
  const ops = await startOpsServer({ host: cfg.bind, port: cfg.hostOpsPort, registry, health: () => running.health() });
  log.info({ opsPort: ops.port, hostId: host.hostId, kinds: [...kindSet.behaviors.keys()] }, "actor host ready");

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      stopped = true;
      await running.stop();
      await ops.close();
      kindSet.close?.();
      await nc.drain().catch(() => {});
    })();
    return stopping;
  };
  return { host: running, opsPort: ops.port, stop };
}
