import type { Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { provisionNats } from "../infra/provision.ts";
import { natsUrlOf } from "../infra/config.ts";
import { runActorHost } from "./host.ts";
import { occupancyBehaviors } from "./occupancy/behaviors.ts";
import { occupancySchemas } from "./occupancy/measurements.ts";
import { createRegistry } from "../infra/ops-server.ts";
import { KvTopologyLookup } from "./doorway/topology-lookup.ts";

/**
 * The actor host process of footfall (`footfall host`): the generic runtime (actors/runtime/)
 * serving the occupancy kinds (doorway, space, site). Several can run; they share partitions.
 */
export async function runOccupancyHost(cfg: Config): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("actor-host", cfg.logLevel);
  const nc = await connectNats(natsUrlOf(cfg), "footfall-topology", log);
  await provisionNats(nc, cfg, log);
  const topology = await KvTopologyLookup.open(nc, log);
  const registry = createRegistry("actor-host");
  const host = await runActorHost(
    cfg,
    occupancyBehaviors({
      topology,
      lateHorizonMs: cfg.lateHorizonHours * 3_600_000,
      maxEntries: cfg.maxTimeline,
      ...(cfg.maxFutureMs > 0 ? { maxFutureMs: cfg.maxFutureMs } : {}),
      registry,
    }),
    { handleSignals: false, registry, influxSchemas: occupancySchemas(cfg.influxDb) },
  );
  return {
    async stop() {
      await host.stop();
      topology.close();
      await nc.drain().catch(() => {});
    },
  };
}
