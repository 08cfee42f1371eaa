import type { Config } from "../infra/config.ts";
import { createLogger } from "../infra/log.ts";
import { connectNats } from "../infra/nats.ts";
import { provisionNats } from "../infra/provision.ts";
import { natsUrlOf } from "../infra/config.ts";
import { runActorHost } from "./host-process.ts";
import { occupancyBehaviors } from "./occupancy/behaviors.ts";
import { occupancySchemas } from "../contracts/occupancy-store.ts";
import { createRegistry } from "../infra/ops-server.ts";
import { KvTopologyLookup } from "../topology/topology-lookup.ts";
import { KvSiteLookup } from "../topology/kv-site-lookup.ts";
import { trackingBehaviors } from "./tracking/behaviors.ts";
import { trackSchemas } from "../contracts/track-store.ts";

/**
 * The actor host process of footfall (`footfall host`): the generic runtime (actors/runtime/)
 * serving every actor kind: the occupancy kinds (doorway, space, site) and the camera pipeline's
 * (camera, linker, person, zone). Several hosts can run; they share partitions.
 */
export async function runFootfallHost(cfg: Config): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("actor-host", cfg.logLevel);
  const nc = await connectNats(natsUrlOf(cfg), "footfall-topology", log);
  await provisionNats(nc, cfg, log);
  const topology = await KvTopologyLookup.open(nc, log);
  const sites = await KvSiteLookup.open(nc, log);
  const registry = createRegistry("actor-host");
  const behaviors = new Map([
    ...occupancyBehaviors({
      topology,
      lateHorizonMs: cfg.lateHorizonHours * 3_600_000,
      maxEntries: cfg.maxTimeline,
      ...(cfg.maxFutureMs > 0 ? { maxFutureMs: cfg.maxFutureMs } : {}),
      registry,
    }),
    ...trackingBehaviors({ sites, reorderMs: cfg.cameraReorderMs, silenceS: cfg.personSilenceS, linkerWaitMs: cfg.linkerWaitMs, registry }),
  ]);
  const host = await runActorHost(cfg, behaviors, {
    handleSignals: false, registry, influxSchemas: [...occupancySchemas(cfg.influxDb), ...trackSchemas(cfg.influxDb)],
  });
  return {
    async stop() {
      await host.stop();
      topology.close();
      sites.close();
      await nc.drain().catch(() => {});
    },
  };
}
