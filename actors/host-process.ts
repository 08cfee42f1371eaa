import { createRegistry, startOpsServer } from "../infra/ops-server.ts";
import { influxUrlOf, natsUrlOf, type Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { influxClient, provisionInflux, provisionNats } from "../infra/provision.ts";
import { backoffMs, pause } from "../infra/backoff.ts";
import { startActorHost, type ActorHost } from "./runtime/actor-host.ts";
import type { BehaviorRegistry } from "./runtime/types.ts";
import type { Registry } from "prom-client";
import type { ISchemaOptions } from "influx";

export interface RunningActorHost {
  host: ActorHost;
  /** port of /healthz and /metrics */
  opsPort: number;
  stop(): Promise<void>;
}

/** Retries a start-up step through transient failures (a NATS or InfluxDB that is still coming up). */
async function untilDone<T>(what: string, fn: () => Promise<T>, log: ReturnType<typeof createLogger>, attempts = 40): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try { return await fn(); } catch (e) {
      if (attempt >= attempts) throw e;
      log.warn({ err: (e as Error).message, attempt }, `${what} failed; retrying`);
      await pause(backoffMs(attempt, 1000));
    }
  }
}

/**
 * The actor host process: connects to NATS and InfluxDB, provisions both, runs the actors of the
 * given behaviours (ActorHost) and serves /healthz (ok while NATS is connected; lists the owned
 * partitions) and /metrics. SIGTERM / SIGINT: clean stop (final flush, checkpoint, leases
 * released), then exit 0. Pass `handleSignals: false` to manage the process yourself.
 */
export async function runActorHost(
  cfg: Config,
  behaviors: BehaviorRegistry,
  opts: { handleSignals?: boolean; hostId?: string; registry?: Registry; influxSchemas?: ISchemaOptions[] } = {},
): Promise<RunningActorHost> {
  const log = createLogger("actor-host", cfg.logLevel);
  const registry = opts.registry ?? createRegistry("actor-host");
  const nc = await untilDone("connecting to NATS", () => connectNats(natsUrlOf(cfg), "footfall-actor-host", log, { noAsyncTraces: true }), log);
  await untilDone("provisioning NATS", () => provisionNats(nc, cfg, log), log);
  const influx = influxClient(influxUrlOf(cfg), cfg.influxDb);
  // field types (integers stay integers) for the measurements the behaviours write
  for (const schema of opts.influxSchemas ?? []) influx.addSchema(schema);
  await untilDone("provisioning InfluxDB", () => provisionInflux(influx, cfg, log), log);
  const host = await startActorHost({
    nc,
    influx,
    behaviors,
    partitions: cfg.partitions,
    leaseTtlMs: cfg.leaseTtlMs,
    flushMs: cfg.flushMs,
    checkpointMs: cfg.checkpointMs,
    snapshotMs: cfg.snapshotMs,
    idleMs: cfg.idleMs,
    registry,
    log,
    maxPayloadBytes: cfg.maxPayloadBytes,
    ...(opts.hostId ? { hostId: opts.hostId } : {}),
  });
  const ops = await startOpsServer({ host: cfg.bind, port: cfg.hostOpsPort, registry, health: () => host.health() });
  log.info({ opsPort: ops.port, hostId: host.hostId, kinds: [...behaviors.keys()] }, "actor host ready");

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      await host.stop();
      await ops.close();
      await nc.drain().catch(() => {});
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, "stopping");
    stop().then(
      () => process.exit(0),
      (e) => { log.error({ err: (e as Error).message }, "unclean stop"); process.exit(1); },
    );
  };
  if (opts.handleSignals ?? true) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
  return { host, opsPort: ops.port, stop };
}
