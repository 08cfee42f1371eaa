import type { NatsConnection } from "@nats-io/transport-node";
import type { ISchemaOptions } from "influx";
import type { Registry } from "prom-client";
import { occupancySchemas } from "../contracts/occupancy-store.ts";
import { trackSchemas } from "../contracts/track-store.ts";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import type { SiteLookup } from "../topology/site-geometry.ts";
import { KvSiteLookup } from "../topology/kv-site-lookup.ts";
import { KvTopologyLookup, type TopologyLookup } from "../topology/topology-lookup.ts";
import { cameraBehavior } from "./camera/behavior.ts";
import type { CameraParams } from "./camera/params.ts";
import { doorwayBehavior } from "./doorway/behavior.ts";
import type { DoorwayParams } from "./doorway/params.ts";
import { linkerBehavior } from "./linker/behavior.ts";
import type { LinkerParams } from "./linker/params.ts";
import { personBehavior } from "./person-track/behavior.ts";
import type { PersonParams } from "./person-track/params.ts";
import type { ActorBehavior, BehaviorRegistry } from "./runtime/types.ts";
import { siteBehavior } from "./site/behavior.ts";
import { spaceBehavior } from "./space/behavior.ts";
import type { OccupancyParams } from "./timeline/late-horizon.ts";
import { zoneBehavior } from "./zone/behavior.ts";
import type { ZoneParams } from "./zone/params.ts";

/** The configuration keys the kinds read: each is also the name of the kind parameter it sets. */
export type KindsConfig = Pick<Config, "lateHorizonHours" | "maxTimeline" | "rawRetention" | "maxFutureMs" | "cameraReorderMs" | "linkerWaitMs" | "linkerQuietMs" | "personSilenceS">;

/** What the kinds are built from. */
export interface KindDeps {
  topology: TopologyLookup;
  sites: SiteLookup;
  /** the configuration's knobs (missing ones: their defaults, infra/config.ts DEFAULTS) */
  config?: Partial<KindsConfig>;
  /** tuning beyond the configuration (tests, benchmarks), by kind */
  tuning?: {
    doorway?: Partial<DoorwayParams>; space?: Partial<OccupancyParams>; site?: Partial<OccupancyParams>;
    camera?: Partial<CameraParams>; linker?: Partial<LinkerParams>; person?: Partial<PersonParams>; zone?: Partial<ZoneParams>;
  };
  /** prom-client registry of the kinds' metrics (default: prom-client's global one) */
  registry?: Registry;
}

/** One kind from the shared dependencies. */
export type KindBuilder = (deps: KindDeps & Required<Pick<KindDeps, "config" | "tuning">>) => ActorBehavior<any>;

const occupancy = ({ lateHorizonHours, maxTimeline, rawRetention }: Partial<KindsConfig>) => ({ lateHorizonHours, maxTimeline, rawRetention });

/** footfall's actor kinds. Adding one is one line here (and its folder under actors/). */
export const FOOTFALL_KINDS: readonly KindBuilder[] = [
  ({ topology, config: c, tuning: t, registry }) => doorwayBehavior({ topology, registry, params: { ...occupancy(c), maxFutureMs: c.maxFutureMs, ...t.doorway } }),
  ({ topology, config: c, tuning: t, registry }) => spaceBehavior({ topology, registry, params: { ...occupancy(c), ...t.space } }),
  ({ config: c, tuning: t, registry }) => siteBehavior({ registry, params: { ...occupancy(c), ...t.site } }),
  ({ sites, config: c, tuning: t, registry }) => cameraBehavior({ sites, registry, params: { cameraReorderMs: c.cameraReorderMs, ...t.camera } }),
  ({ sites, config: c, tuning: t, registry }) => linkerBehavior({ sites, registry, params: { linkerWaitMs: c.linkerWaitMs, quietMs: c.linkerQuietMs, personSilenceS: c.personSilenceS, ...t.linker } }),
  ({ sites, tuning: t, registry }) => personBehavior({ sites, registry, params: t.person }),
  ({ sites, tuning: t, registry }) => zoneBehavior({ sites, registry, params: t.zone }),
];

/** The behaviours of `kinds`, by kind, built from `deps` (pure: tests and harnesses build them the host's way). */
export function buildKinds(deps: KindDeps, kinds: readonly KindBuilder[] = FOOTFALL_KINDS): BehaviorRegistry {
  const resolved = { ...deps, config: deps.config ?? {}, tuning: deps.tuning ?? {} };
  const behaviors: BehaviorRegistry = new Map();
  for (const build of kinds) {
    const b = build(resolved);
    if (behaviors.has(b.kind)) throw new Error(`actor kind ${b.kind} is registered twice`);
    behaviors.set(b.kind, b);
  }
  return behaviors;
}

/** What an actor host serves: its kinds, the InfluxDB schemas of what they write, and what to close at the end. */
export interface KindSet {
  behaviors: BehaviorRegistry;
  influxSchemas?: ISchemaOptions[];
  close?(): void;
}

export type KindsFactory = (env: { cfg: Config; nc: NatsConnection; registry: Registry; log: Logger }) => Promise<KindSet>;

/** footfall's actor kinds over the topology and site geometry in NATS KV, configured by `cfg`. */
export const footfallKinds: KindsFactory = async ({ cfg, nc, registry, log }) => {
  const topology = await KvTopologyLookup.open(nc, log);
  const sites = await KvSiteLookup.open(nc, log);
  return {
    behaviors: buildKinds({ topology, sites, config: cfg, registry }),
    influxSchemas: [...occupancySchemas(cfg.influxDb), ...trackSchemas(cfg.influxDb)],
    close() {
      topology.close();
      sites.close();
    },
  };
};
