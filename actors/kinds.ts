import type { NatsConnection } from "@nats-io/transport-node";
import type { ISchemaOptions } from "influx";
import type { Registry } from "prom-client";
import { occupancySchemas } from "../contracts/occupancy-store.ts";
import { trackSchemas } from "../contracts/track-store.ts";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import { KvSiteLookup } from "../topology/kv-site-lookup.ts";
import { KvTopologyLookup } from "../topology/topology-lookup.ts";
import { occupancyBehaviors } from "./occupancy/behaviors.ts";
import type { BehaviorRegistry } from "./runtime/types.ts";
import { trackingBehaviors } from "./tracking/behaviors.ts";

/** What an actor host serves: its kinds, the InfluxDB schemas of what they write, and what to close at the end. */
export interface KindSet {
  behaviors: BehaviorRegistry;
  influxSchemas?: ISchemaOptions[];
  close?(): void;
}

export type KindsFactory = (env: { cfg: Config; nc: NatsConnection; registry: Registry; log: Logger }) => Promise<KindSet>;

/** footfall's actor kinds: occupancy (doorway, space, site) and the camera pipeline (camera, linker, person, zone). */
export const footfallKinds: KindsFactory = async ({ cfg, nc, registry, log }) => {
  const topology = await KvTopologyLookup.open(nc, log);
  const sites = await KvSiteLookup.open(nc, log);
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
  return {
    behaviors,
    influxSchemas: [...occupancySchemas(cfg.influxDb), ...trackSchemas(cfg.influxDb)],
    close() {
      topology.close();
      sites.close();
    },
  };
};
