import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { InfluxDB, type ISingleHostConfig } from "influx";
import {
  KV_DEVICES, KV_EXTRACTION, KV_HOSTS, KV_JOBS, KV_KEYS, KV_STILLS, STILL_TTL_MS, KV_LEASES, KV_QUERIES, KV_SNAPSHOTS, KV_TOPOLOGY,
  STREAM_ACTORS, STREAM_EVENTS, ACTOR_SUBJECT_ROOT, EVENT_SUBJECT_ROOT,
} from "../contracts/nats-layout.ts";
import { rollupOf, RP } from "../contracts/influx-layout.ts";
import { ROLLUPS } from "../contracts/occupancy-store.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { splitCredentials } from "./service-secrets.ts";

const NS_PER_MS = 1_000_000;
const DAY_MS = 86_400_000;

/**
 * Creates (or updates) every stream and KV bucket. Safe to run at every start, by every process.
 * FF_ACTORS keeps messages 7 days: actor hosts replay from their checkpoints, so the stream
 * must hold everything since the oldest checkpoint. Its duplicate window (the first stage of
 * de-duplication) is 10 minutes; actors de-duplicate after that.
 */
export async function provisionNats(nc: NatsConnection, cfg: Pick<Config, "leaseTtlMs">, log?: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const streams = [
    { name: STREAM_ACTORS, subjects: [`${ACTOR_SUBJECT_ROOT}.>`], max_age: 7 * DAY_MS * NS_PER_MS, duplicate_window: 10 * 60_000 * NS_PER_MS },
    { name: STREAM_EVENTS, subjects: [`${EVENT_SUBJECT_ROOT}.>`], max_age: 1 * DAY_MS * NS_PER_MS, duplicate_window: 2 * 60_000 * NS_PER_MS },
  ];
  for (const s of streams) {
    const cfg = { ...s, retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: 1 };
    try {
      await jsm.streams.info(s.name);
      await jsm.streams.update(s.name, cfg);
    } catch (e) {
      if (!/stream not found/i.test((e as Error).message)) throw e;
      await jsm.streams.add(cfg);
    }
  }
  const kvm = new Kvm(nc);
  await kvm.create(KV_DEVICES, { history: 1 });
  await kvm.create(KV_TOPOLOGY, { history: 5 });
  await kvm.create(KV_SNAPSHOTS, { history: 1, maxValueSize: 8 * 1024 * 1024 });
  await kvm.create(KV_LEASES, { history: 1, ttl: cfg.leaseTtlMs });
  await kvm.create(KV_HOSTS, { history: 1, ttl: cfg.leaseTtlMs });
  // query history and jobs are kept 30 days; a stored query result may be up to 4 MiB
  await kvm.create(KV_QUERIES, { history: 1, ttl: 30 * DAY_MS, maxValueSize: 4 * 1024 * 1024 });
  await kvm.create(KV_JOBS, { history: 1, ttl: 30 * DAY_MS });
  await kvm.create(KV_EXTRACTION, { history: 1 });
  await kvm.create(KV_KEYS, { history: 1 });
  // a still is at most 1 MiB and lives a minute: the wall's camera tile, not an archive
  await kvm.create(KV_STILLS, { history: 1, ttl: STILL_TTL_MS, maxValueSize: 1024 * 1024 });
  log?.info("nats streams and buckets ready");
}

/**
 * node-influx options for an InfluxDB URL: host, port, protocol, and the user and password the URL
 * carries (http://user:password@host:port; footfall's own influxd requires them).
 */
export function influxOptions(url: string, database: string): ISingleHostConfig & { host: string; port: number; protocol: "http" | "https"; database: string } {
  const { url: bare, credentials } = splitCredentials(url);
  const u = new URL(bare);
  return {
    host: u.hostname, port: Number(u.port || 8086), protocol: u.protocol === "https:" ? "https" : "http", database,
    ...(credentials ? { username: credentials.user, password: credentials.password } : {}),
  };
}

/** The InfluxDB client for our database (node-influx, InfluxDB 1.x HTTP API), with the URL's credentials. */
export function influxClient(url: string, database: string): InfluxDB {
  return new InfluxDB(influxOptions(url, database));
}

/**
 * For a plain fetch to InfluxDB's HTTP API: the URL without credentials (fetch refuses URLs that
 * carry them) and the Authorization header that sends them instead.
 */
export function influxHttp(url: string): { base: string; headers: Record<string, string> } {
  const { url: base, credentials } = splitCredentials(url);
  return {
    base,
    headers: credentials ? { authorization: `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}` } : {},
  };
}

/**
 * Database, retention policies and continuous queries, idempotently:
 *  raw    (default RP): every point, kept FOOTFALL_RAW_RETENTION (30 days by default)
 *  rollup: hourly peak/mean/last per series, fed by continuous queries, kept FOOTFALL_ROLLUP_RETENTION.
 * The CQs resample the last 2 days every hour, so late data that corrected raw history is
 * rolled up again.
 */
export async function provisionInflux(influx: InfluxDB, cfg: Pick<Config, "influxDb" | "rawRetention" | "rollupRetention">, log?: Logger): Promise<void> {
  const db = cfg.influxDb;
  await influx.createDatabase(db);
  const rps = await influx.showRetentionPolicies(db);
  const want = [
    { name: RP.raw, duration: cfg.rawRetention, isDefault: true },
    { name: RP.rollup, duration: cfg.rollupRetention, isDefault: false },
  ];
  for (const rp of want) {
    const opts = { database: db, duration: rp.duration, replication: 1, isDefault: rp.isDefault };
    if (rps.some((r) => r.name === rp.name)) await influx.alterRetentionPolicy(rp.name, opts);
    else await influx.createRetentionPolicy(rp.name, opts);
  }
  const cqs = await influx.showContinousQueries(db);
  const wanted: Record<string, string> = Object.fromEntries(ROLLUPS.map(({ measurement, select }) => [
    `cq_${rollupOf(measurement)}`,
    `SELECT ${select} INTO "${db}"."${RP.rollup}"."${rollupOf(measurement)}" FROM "${db}"."${RP.raw}"."${measurement}" GROUP BY time(1h), *`,
  ]));
  for (const [name, select] of Object.entries(wanted)) {
    if (cqs.some((c) => c.name === name)) continue;
    await influx.query(`CREATE CONTINUOUS QUERY "${name}" ON "${db}" RESAMPLE EVERY 1h FOR 2d BEGIN ${select} END`);
  }
  log?.info({ db }, "influx database, retention policies and continuous queries ready");
}
