import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { InfluxDB, type ISingleHostConfig } from "influx";
import {
  KV_DEVICES, KV_EXTRACTION, KV_HOSTS, KV_JOBS, KV_KEYS, KV_STILLS, STILL_TTL_MS, KV_LEASES, KV_QUERIES, KV_SNAPSHOTS, KV_TOPOLOGY,
  STREAM_ACTORS, STREAM_EVENTS, ACTOR_SUBJECT_ROOT, EVENT_SUBJECT_ROOT,
  KV_VIDEO_CHUNKS, KV_VIDEO_LOCKS, VIDEO_LOCK_TTL_MS,
} from "../contracts/nats-layout.ts";
import { rollupOf, RP } from "../contracts/influx-layout.ts";
import { ROLLUPS } from "../contracts/occupancy-store.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { splitCredentials } from "./service-secrets.ts";

const NS_PER_MS = 1_000_000;
const DAY_MS = 86_400_000;

/**
 * A JetStream API call, retried for up to 30 s while the cluster cannot answer yet: a request
 * timing out, no responders, no leader (a stream's or the meta group's election after a node
 * was lost or a stream was scaled), or too few peers known yet to place the replicas (a cluster
 * whose nodes are still finding each other).
 */
async function whileElecting<T>(what: string, call: () => Promise<T>, log?: Logger): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const err = e as Error;
      const transient = err.name === "TimeoutError" || /timeout|no responders|leader|not available|unavailable|temporarily|no suitable peers/i.test(err.message);
      if (!transient || Date.now() > deadline) throw e;
      log?.warn({ err, what, attempt }, "JetStream not answering yet; retrying");
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Creates (or updates) every stream and KV bucket. Safe to run at every start, by every process.
 * FF_ACTORS keeps messages 7 days: actor hosts replay from their checkpoints, so the stream
 * must hold everything since the oldest checkpoint. Its duplicate window (the first stage of
 * de-duplication) is 2 minutes, which covers a device's re-send after a failover and an actor
 * host's replay after a crash; actors de-duplicate after that. nats-server keeps every id of the
 * window in memory: with a 10-minute window, a three-node cluster taking 500 crossings/s and 100
 * camera frames/s grew past 700 MB per nats-server and fell behind once the window was full.
 * `replicas` (FOOTFALL_REPLICAS): every stream and bucket gets that many, existing ones are scaled
 * to it; unset, new ones get 1 and existing ones keep theirs. Buckets are read through their
 * stream's leader (no direct gets), so a read never returns a value older than one acknowledged.
 */
export async function provisionNats(nc: NatsConnection, cfg: Pick<Config, "leaseTtlMs"> & Partial<Pick<Config, "replicas">>, log?: Logger): Promise<void> {
  const jsm = await whileElecting("JetStream", () => jetstreamManager(nc), log);
  // FOOTFALL_REPLICAS: new streams and buckets get that many; existing ones are scaled to it.
  // Unset: new ones get 1, existing ones keep theirs (a process that does not know the cluster's
  // size never scales a replicated stream down).
  const replicas = cfg.replicas;
  const streams = [
    { name: STREAM_ACTORS, subjects: [`${ACTOR_SUBJECT_ROOT}.>`], max_age: 7 * DAY_MS * NS_PER_MS, duplicate_window: 2 * 60_000 * NS_PER_MS },
    { name: STREAM_EVENTS, subjects: [`${EVENT_SUBJECT_ROOT}.>`], max_age: 1 * DAY_MS * NS_PER_MS, duplicate_window: 2 * 60_000 * NS_PER_MS },
  ];
  for (const s of streams) {
    const cfg = { ...s, retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: replicas ?? 1 };
    const info = await whileElecting(`stream ${s.name}`, () => jsm.streams.info(s.name).catch((e: Error) => {
      if (/stream not found/i.test(e.message)) return undefined;
      throw e;
    }), log);
    if (info) await whileElecting(`stream ${s.name}`, () => jsm.streams.update(s.name, { ...cfg, num_replicas: replicas ?? info.config.num_replicas }), log);
    else await whileElecting(`stream ${s.name}`, () => jsm.streams.add(cfg), log);
  }
  const kvm = new Kvm(nc);
  const buckets: Array<[string, Parameters<Kvm["create"]>[1]]> = [
    [KV_DEVICES, { history: 1 }],
    [KV_TOPOLOGY, { history: 5 }],
    [KV_SNAPSHOTS, { history: 1, maxValueSize: 8 * 1024 * 1024 }],
    [KV_LEASES, { history: 1, ttl: cfg.leaseTtlMs }],
    [KV_HOSTS, { history: 1, ttl: cfg.leaseTtlMs }],
    // query history and jobs are kept 30 days; a stored query result may be up to 4 MiB
    [KV_QUERIES, { history: 1, ttl: 30 * DAY_MS, maxValueSize: 4 * 1024 * 1024 }],
    [KV_JOBS, { history: 1, ttl: 30 * DAY_MS }],
    [KV_EXTRACTION, { history: 1 }],
    [KV_KEYS, { history: 1 }],
    // a still is at most 1 MiB and lives a minute: the wall's camera tile, not an archive
    [KV_STILLS, { history: 1, ttl: STILL_TTL_MS, maxValueSize: 1024 * 1024 }],
    // the chunk store's index (shared by every API process) and its job locks
    [KV_VIDEO_CHUNKS, { history: 1 }],
    [KV_VIDEO_LOCKS, { history: 1, ttl: VIDEO_LOCK_TTL_MS }],
  ];
  for (const [bucket, opts] of buckets) {
    await whileElecting(`bucket ${bucket}`, () => kvm.create(bucket, { ...opts, allow_direct: false, replicas: replicas ?? 1 }), log);
    // an existing bucket keeps its options, but is scaled to the replicas asked for and loses direct
    // gets (which any replica answers, also one still catching up after a restart: a host resuming
    // a partition could read a checkpoint or snapshot older than one already acknowledged)
    const stream = `KV_${bucket}`;
    const info = await whileElecting(`bucket ${bucket}`, () => jsm.streams.info(stream), log);
    const want = { ...info.config, num_replicas: replicas ?? info.config.num_replicas, allow_direct: false };
    if (want.num_replicas !== info.config.num_replicas || info.config.allow_direct) {
      await whileElecting(`bucket ${bucket}`, () => jsm.streams.update(stream, want), log);
    }
  }
  log?.info({ replicas: replicas ?? "as they are" }, "nats streams and buckets ready");
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
 * A client for an actor host's point writer: its own connection pool, so the write in flight can
 * be aborted, and no retries of its own (the writer retries, with the points still wanted).
 *
 * Its sockets close with a TCP reset, whatever closes them (an abort, a request timing out): the
 * bytes of an unfinished request still queued in the kernel are dropped. A plain close would keep
 * them, and send them followed by FIN once a network partition heals, so InfluxDB would apply the
 * whole request late, over the points another host wrote meanwhile.
 */
export function influxWriteClient(url: string, database: string, opts: { requestTimeoutMs?: number } = {}): { influx: InfluxDB; abortInFlight: () => void } {
  const o = influxOptions(url, database);
  const agent = o.protocol === "https" ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  resetOnClose(agent, o.protocol === "https");
  const influx = new InfluxDB({
    ...o, options: { agent }, pool: { maxRetries: 0, ...(opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {}) },
  });
  const abortInFlight = () => {
    for (const sockets of Object.values(agent.sockets)) for (const socket of sockets ?? []) socket.destroy();
  };
  return { influx, abortInFlight };
}

/** Makes every connection of the agent end with a reset instead of FIN (see influxWriteClient). */
function resetOnClose(agent: http.Agent, tlsOverTcp: boolean): void {
  type Create = (options: net.NetConnectOpts & tls.ConnectionOptions, cb?: (err: Error | null, s: net.Socket) => void) => net.Socket;
  const withAgent = agent as unknown as { createConnection: Create };
  const create = withAgent.createConnection.bind(agent);
  withAgent.createConnection = (options, cb) => {
    // TLS: the TCP socket under it is the one to reset
    const raw = tlsOverTcp ? net.connect({ host: options.host ?? "localhost", port: Number(options.port) }) : undefined;
    // (the agent takes the socket returned; cb is only a connect listener here)
    const socket = raw ? tls.connect({ ...options, socket: raw }) : create(options, cb);
    const tcp = raw ?? socket;
    const destroy = socket.destroy;
    socket.destroy = function (this: net.Socket, err?: Error) {
      socket.destroy = destroy;
      // a socket still connecting has sent nothing: a plain close is enough
      if (!tcp.destroyed && !tcp.connecting) tcp.resetAndDestroy();
      return tcp === socket && tcp.destroyed ? this : destroy.call(this, err);
    };
    return socket;
  };
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
