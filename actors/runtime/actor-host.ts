import os from "node:os";
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { InfluxDB } from "influx";
import { Registry } from "prom-client";
import { fnv1a, KV_HOSTS, KV_LEASES, KV_SNAPSHOTS } from "../../contracts/nats-layout.ts";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import { planShare } from "./fair-share.ts";
import { HostRegistry } from "./host-registry.ts";
import { InfluxWriter } from "./influx-writer.ts";
import { Lease } from "./lease.ts";
import { RuntimeMetrics } from "./metrics.ts";
import { PartitionWorker } from "./partition-worker.ts";
import { SnapshotStore } from "./snapshot-store.ts";
import type { BehaviorRegistry } from "./types.ts";

export interface ActorHostOptions {
  nc: NatsConnection;
  influx: InfluxDB;
  behaviors: BehaviorRegistry;
  partitions: number;
  leaseTtlMs: number;
  flushMs: number;
  checkpointMs: number;
  idleMs: number;
  /** a changed actor's snapshot is written at most this often (default: every checkpoint) */
  snapshotMs?: number;
  /** snapshot pacing by size: at most about this many snapshot bytes per message handled (default 0: no pacing) */
  snapshotBytesPerMessage?: number;
  hostId?: string;
  registry?: Registry;
  log: Logger;
  /** wall clock handed to behaviours as ctx.now() */
  now?: () => number;
  /** largest body ctx.send / ctx.emit may publish (default 1 MiB) */
  maxPayloadBytes?: number;
  /** how long a clean stop may spend on one partition's final flush and checkpoint (default 15 s) */
  stopTimeoutMs?: number;
  /** InfluxDB writes failing for longer than this make health() not ok (default 30 s) */
  influxUnhealthyMs?: number;
  /** points waiting for InfluxDB above which the partitions stop consuming (default DEFAULT_MAX_BUFFERED) */
  maxBufferedPoints?: number;
  /** InfluxDB writes wait for this (provisioning running in the background) */
  influxReady?: Promise<unknown>;
  /**
   * Aborts the InfluxDB write in flight, so a dropped partition's points already sent cannot land
   * after the next owner's (`influxWriteClient()` gives `influx` with it). Hosts without it are
   * fenced for the points still waiting only.
   */
  abortInfluxWrite?: () => void;
}

export interface ActorHostHealth {
  ok: boolean;
  hostId: string;
  natsConnected: boolean;
  /** InfluxDB writes have not been failing for longer than the bound */
  influxOk: boolean;
  /** points waiting to be written, age of the oldest (ms), how long writes have been failing (ms) */
  influx: { pending: number; oldestMs: number; failingMs: number; lastError?: string };
  /** why ok is false */
  reason?: string;
  partitions: number[];
  liveHosts: number;
  actors: number;
  [k: string]: unknown;
}

/** Pause before a lease renewal that got no answer is tried again (ms). */
const RENEW_RETRY_MS = 100;

interface Holding {
  lease: Lease;
  worker: PartitionWorker;
  releasing: boolean;
  /** a renewal is in flight */
  renewing: boolean;
}

const defaultHostId = () =>
  `${os.hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40)}-${process.pid}-${randomBytes(3).toString("hex")}`;

/**
 * Runs actors for the partitions this host holds leases on: announces itself in KV_HOSTS,
 * renews its leases every ttl/3 (a refused renewal drops the partition at once), and keeps its
 * fair share, ceil(partitions / live hosts), releasing extras after a final checkpoint and
 * acquiring free partitions up to the share.
 */
export class ActorHost {
  readonly hostId: string;
  readonly metrics: RuntimeMetrics;
  private readonly holdings = new Map<number, Holding>();
  /** dropped partitions whose workers are still winding down */
  private readonly draining = new Map<number, Promise<void>>();
  private readonly writer: InfluxWriter;
  private readonly snapshots: SnapshotStore;
  private readonly js: JetStreamClient;
  private readonly log: Logger;
  private readonly offset: number;
  private timers: NodeJS.Timeout[] = [];
  private announcing: Promise<void> | undefined;
  private balancing: Promise<void> | undefined;
  private stopped = false;
  private connected = true;
  private liveHosts = 1;

  private constructor(
    private readonly o: ActorHostOptions,
    private readonly kvLeases: KV,
    kvSnapshots: KV,
    private readonly hosts: HostRegistry,
    hostId: string,
  ) {
    this.hostId = hostId;
    this.log = o.log.child({ hostId });
    this.metrics = new RuntimeMetrics(o.registry ?? new Registry());
    this.writer = new InfluxWriter({
      influx: o.influx, log: this.log, metrics: this.metrics,
      ...(o.maxBufferedPoints ? { maxBuffered: o.maxBufferedPoints } : {}),
      ...(o.influxReady ? { ready: o.influxReady } : {}),
      ...(o.abortInfluxWrite ? { abortInFlight: o.abortInfluxWrite } : {}),
    });
    this.snapshots = new SnapshotStore(kvSnapshots, this.log);
    this.js = jetstream(o.nc);
    this.offset = fnv1a(hostId);
  }

  static async start(o: ActorHostOptions): Promise<ActorHost> {
    if (!Number.isInteger(o.partitions) || o.partitions < 1) throw new Error("partitions must be a positive integer");
    if (!(o.leaseTtlMs >= 1000)) throw new Error("leaseTtlMs must be at least 1000");
    const hostId = o.hostId ?? defaultHostId();
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(hostId)) throw new Error("hostId must be 1-128 characters of A-Z a-z 0-9 _ -");
    const kvm = new Kvm(o.nc);
    const retrying = async <T>(bucket: string, what: string, f: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try { return await f(); } catch (e) {
          if (attempt >= 30) throw e;
          o.log.warn({ bucket, err: e }, `${what} failed; retrying`);
          await pause(backoffMs(attempt));
        }
      }
    };
    const open = (via: Kvm, bucket: string) => retrying(bucket, "opening KV bucket", () => via.open(bucket));
    // lease operations give up well inside a renewal period, so a NATS outage cannot stall renewals
    const leaseOpTimeoutMs = Math.max(500, Math.min(5000, Math.floor(o.leaseTtlMs / 3)));
    const [leases, snapshots, hostsKv] = [
      await open(new Kvm(jetstream(o.nc, { timeout: leaseOpTimeoutMs })), KV_LEASES),
      await open(kvm, KV_SNAPSHOTS),
      await open(new Kvm(jetstream(o.nc, { timeout: leaseOpTimeoutMs })), KV_HOSTS),
    ];
    // the bucket's TTL is what makes a lease expire: time renewals by it if it differs from ours
    const bucketTtl = await leases.status().then((st) => st.ttl, () => 0);
    if (bucketTtl > 0 && bucketTtl !== o.leaseTtlMs) {
      o.log.warn({ bucketTtl, leaseTtlMs: o.leaseTtlMs }, "lease bucket TTL differs from leaseTtlMs; using the bucket's");
      o = { ...o, leaseTtlMs: bucketTtl };
    }
    const hosts = new HostRegistry(hostsKv, hostId, o.leaseTtlMs, o.log);
    await retrying(KV_HOSTS, "watching KV bucket", () => hosts.follow(o.nc));
    const host = new ActorHost(o, leases, snapshots, hosts, hostId);
    await host.hosts.announce({ partitions: [], at: Date.now() }).catch(() => {});
    host.begin();
    return host;
  }

  /** Partitions this host consumes (including ones it is handing over). */
  ownedPartitions(): number[] {
    return [...this.holdings.keys()].sort((a, b) => a - b);
  }

  health(): ActorHostHealth {
    let actors = 0;
    for (const h of this.holdings.values()) actors += h.worker.activeActors();
    const natsConnected = this.connected && !this.o.nc.isClosed();
    const w = this.writer.state();
    const bound = this.o.influxUnhealthyMs ?? 30_000;
    const influxOk = w.failingMs <= bound;
    const reason = this.stopped ? "stopping"
      : !natsConnected ? "not connected to NATS"
      : !influxOk ? `InfluxDB writes have failed for ${Math.round(w.failingMs / 1000)} s (bound ${Math.round(bound / 1000)} s, FOOTFALL_INFLUX_UNHEALTHY_S); ${w.pending} points waiting, the oldest ${Math.round(w.oldestMs / 1000)} s old${w.lastError ? `; last error: ${w.lastError}` : ""}`
      : undefined;
    const influx = { pending: w.pending, oldestMs: Math.round(w.oldestMs), failingMs: Math.round(w.failingMs), ...(w.lastError ? { lastError: w.lastError } : {}) };
    return {
      ok: reason === undefined, ...(reason ? { reason } : {}), hostId: this.hostId, natsConnected, influxOk, influx,
      partitions: this.ownedPartitions(), liveHosts: this.liveHosts, actors,
    };
  }

  /** InfluxDB failed outside the writer (provisioning): counts as failing writes until one succeeds. */
  noteInfluxFailure(e: unknown): void {
    this.writer.noteFailure(e);
  }

  /** Clean stop: stop consuming, flush, checkpoint, release leases and the host's announcement. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.balancing;
    await this.announcing;
    await this.hosts.leave().catch(() => {});
    // leases keep being renewed while the final checkpoints are written
    await Promise.all(this.ownedPartitions().map((p) => this.release(p, "host stopping")));
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.writer.close();
    this.log.info("actor host stopped");
  }

  private begin(): void {
    (async () => {
      for await (const s of this.o.nc.status()) {
        if (s.type === "disconnect") this.connected = false;
        else if (s.type === "reconnect") this.connected = true;
      }
    })().catch(() => {});
    const period = Math.max(100, Math.floor(this.o.leaseTtlMs / 3));
    this.timers.push(setInterval(() => this.renewTick(), period));
    this.timers.push(setInterval(() => this.balanceTick(), period));
    // a lease is valid up to 90 % of its TTL: checked every 5 % of it, a lapsed one is dropped
    // (its points fenced off) before the server lets another host take it
    this.timers.push(setInterval(() => this.expiryTick(), Math.max(50, Math.floor(this.o.leaseTtlMs / 20))));
    this.log.info({ partitions: this.o.partitions, leaseTtlMs: this.o.leaseTtlMs }, "actor host started");
    this.balanceTick();
  }

  /**
   * Every ttl/3: renew each lease on its own (a renewal stuck in a NATS outage never delays the
   * others), and drop at once any partition whose lease may have expired meanwhile.
   */
  private renewTick(): void {
    for (const [p, h] of this.holdings) {
      if (!h.lease.valid()) {
        this.drop(p, "lease could not be renewed in time");
        continue;
      }
      this.metrics.mailboxDepth.set({ partition: String(p) }, h.worker.depth());
      if (!h.renewing) this.renew(p, h);
    }
    if (!this.announcing && !this.stopped) {
      this.announcing = this.hosts.announce({ partitions: this.ownedPartitions(), at: Date.now() })
        .catch((e) => this.log.debug({ err: e }, "host announcement failed"))
        .finally(() => { this.announcing = undefined; });
    }
  }

  /**
   * One renewal of a partition's lease. One that got no answer in time (a slow or unreachable
   * NATS) is tried again RENEW_RETRY_MS later while the lease is still valid, not at the next
   * tick: waiting a whole period after a time-out as long as the period would let a single slow
   * answer lapse the lease (valid for 90 % of the TTL, renewed every third of it).
   */
  private renew(p: number, h: Holding): void {
    h.renewing = true;
    const began = performance.now();
    void h.lease.renew().then((outcome) => {
      h.renewing = false;
      this.metrics.leaseRenewal.observe((performance.now() - began) / 1000);
      if (this.holdings.get(p) !== h) return;
      if (outcome === "lost") this.drop(p, "lease taken or expired");
      else if (outcome === "unknown" && !h.lease.valid()) this.drop(p, "lease could not be renewed in time");
      else if (outcome === "unknown" && !this.stopped) {
        // a short pause, so a renewal refused at once (no connection) does not spin
        setTimeout(() => { if (this.holdings.get(p) === h && !h.renewing && !this.stopped) this.renew(p, h); }, RENEW_RETRY_MS).unref();
      }
    });
  }

  /** Drops every partition whose lease may have lapsed (no I/O: only the holder's own clock). */
  private expiryTick(): void {
    for (const [p, h] of this.holdings) if (!h.lease.valid()) this.drop(p, "lease could not be renewed in time");
  }

  private balanceTick(): void {
    if (this.stopped || this.balancing) return;
    this.balancing = this.rebalance().catch((e) => this.log.warn({ err: e }, "rebalance failed"))
      .finally(() => { this.balancing = undefined; });
  }

  private async rebalance(): Promise<void> {
    if (!this.connected) return;
    this.liveHosts = this.hosts.liveHosts();
    const owned = [...this.holdings.entries()].filter(([, h]) => !h.releasing).map(([p]) => p);
    const plan = planShare({ partitions: this.o.partitions, owned, liveHosts: this.liveHosts, offset: this.offset });
    for (const p of plan.release) {
      if (this.stopped) return;
      await this.release(p, `fair share is ${plan.target} of ${this.o.partitions} with ${this.liveHosts} hosts`);
    }
    let have = owned.length;
    for (const p of plan.candidates) {
      if (this.stopped || have >= plan.target || !this.connected) break;
      if (this.holdings.has(p) || this.draining.has(p)) continue;
      let lease: Lease | undefined;
      try {
        lease = await Lease.acquire(this.kvLeases, p, this.hostId, this.o.leaseTtlMs);
      } catch (e) {
        this.log.debug({ partition: p, err: e }, "lease acquisition failed");
        continue;
      }
      if (!lease) continue;
      if (this.stopped) { await lease.release().catch(() => {}); return; }
      this.adopt(p, lease);
      have++;
    }
  }

  private adopt(partition: number, lease: Lease): void {
    const worker = new PartitionWorker({
      partition,
      partitions: this.o.partitions,
      js: this.js,
      snapshots: this.snapshots,
      writer: this.writer,
      behaviors: this.o.behaviors,
      lease,
      metrics: this.metrics,
      log: this.log,
      flushMs: this.o.flushMs,
      checkpointMs: this.o.checkpointMs,
      idleMs: this.o.idleMs,
      snapshotMs: this.o.snapshotMs ?? 0,
      snapshotBytesPerMessage: this.o.snapshotBytesPerMessage ?? 0,
      now: this.o.now ?? Date.now,
      onLost: (p, reason) => this.drop(p, reason),
      ...(this.o.maxPayloadBytes ? { maxPayloadBytes: this.o.maxPayloadBytes } : {}),
    });
    this.holdings.set(partition, { lease, worker, releasing: false, renewing: false });
    this.metrics.partitionsOwned.inc();
    worker.start();
  }

  /** Lost the partition: stop its worker at once, no checkpoint, no lease deletion. */
  private drop(partition: number, reason: string): void {
    const h = this.holdings.get(partition);
    if (!h) return;
    this.holdings.delete(partition);
    this.metrics.partitionsOwned.dec();
    this.metrics.partitionsDropped.inc({ cause: dropCause(reason) });
    this.log.warn({ partition, reason }, "partition dropped");
    // not re-acquired until the abandoned worker has fully wound down
    const done = h.worker.abandon().finally(() => { if (this.draining.get(partition) === done) this.draining.delete(partition); });
    this.draining.set(partition, done);
  }

  /** Hand the partition back: final flush and checkpoint, then delete the lease. */
  private async release(partition: number, reason: string): Promise<void> {
    const h = this.holdings.get(partition);
    if (!h || h.releasing) return;
    h.releasing = true;
    this.log.info({ partition, reason }, "releasing partition");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), this.o.stopTimeoutMs ?? 15_000); });
    const outcome = await Promise.race([h.worker.stop(), timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.log.warn({ partition }, "final checkpoint took too long; the next owner replays from the previous one");
      await h.worker.abandon();
    }
    if (this.holdings.get(partition) === h) {
      this.holdings.delete(partition);
      this.metrics.partitionsOwned.dec();
      await h.lease.release().catch((e) => this.log.warn({ partition, err: e }, "lease release failed; it will expire"));
    }
  }
}

/** The cause label of footfall_actor_partitions_dropped_total for a drop's reason. */
function dropCause(reason: string): string {
  if (reason.startsWith("fenced")) return "fenced";
  if (reason === "worker failed") return "worker_failed";
  if (reason.startsWith("lease taken")) return "lease_taken";
  return "lease_unrenewed";
}

export async function startActorHost(opts: ActorHostOptions): Promise<ActorHost> {
  return ActorHost.start(opts);
}
