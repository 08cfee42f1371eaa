import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { counter, gauge, histogram } from "../../infra/metrics.ts";

type BacklogSource = () => { pending: number; oldestMs: number; failingMs: number };
const BACKLOG_SOURCES = new WeakMap<Registry, BacklogSource[]>();

const LEASE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];
const PROCESSING_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The actor runtime's Prometheus metrics. Registered once per registry (a second host in the
 * same process and registry shares them).
 */
export class RuntimeMetrics {
  readonly messages: Counter<"kind">;
  readonly processing: Histogram<"kind">;
  readonly mailboxDepth: Gauge<"partition">;
  readonly partitionsOwned: Gauge;
  readonly partitionsDropped: Counter<"cause">;
  readonly leaseRenewal: Histogram;
  readonly actorsActive: Gauge<"kind">;
  readonly errors: Counter<"kind">;
  readonly skipped: Counter<"kind">;
  readonly checkpoints: Counter<"outcome">;
  readonly divergences: Counter;
  readonly deliveryGaps: Counter;
  readonly publishRetries: Counter;
  readonly influxPoints: Counter;
  readonly influxFailures: Counter<"outcome">;
  private readonly backlogSources: BacklogSource[];

  constructor(readonly registry: Registry) {
    // hosts sharing a registry share the backlog gauges: they report the sum of their writers
    this.backlogSources = BACKLOG_SOURCES.get(registry) ?? [];
    this.messages = this.counter("footfall_actor_messages_total", "Messages handled by actors", ["kind"]);
    this.processing = this.histogram("footfall_actor_processing_seconds", "Time an actor spent handling one message", ["kind"]);
    this.mailboxDepth = this.gauge("footfall_actor_mailbox_depth", "Messages waiting in an owned partition's consumer", ["partition"]);
    this.partitionsOwned = this.gauge("footfall_actor_partitions_owned", "Partitions this host consumes", []);
    this.partitionsDropped = this.counter("footfall_actor_partitions_dropped_total",
      "Partitions this host stopped consuming without a final checkpoint, by cause: lease_taken (another host holds it, or it expired on the server), lease_unrenewed (not renewed in time), fenced (a write found another holder), worker_failed; the next holder replays from the last checkpoint", ["cause"]);
    this.leaseRenewal = histogram(registry, "footfall_actor_lease_renewal_seconds", "Time a partition lease renewal took (a renewal that got no answer counts its time-out)", [], LEASE_BUCKETS);
    this.actorsActive = this.gauge("footfall_actors_active", "Actors in memory", ["kind"]);
    this.errors = this.counter("footfall_actor_errors_total", "Messages that could not be handled (bad JSON, unknown kind, handler threw)", ["kind"]);
    this.skipped = this.counter("footfall_actor_replays_skipped_total", "Messages skipped because the actor's snapshot already covers them", ["kind"]);
    this.checkpoints = this.counter("footfall_actor_checkpoints_total", "Partition checkpoints by outcome", ["outcome"]);
    this.divergences = this.counter("footfall_actor_replica_divergences_total",
      "Times messages a partition consumer had handed out differed from the stream leader's at the same sequence (its replica disagreed); the partition went back and read the leader's", []);
    this.deliveryGaps = this.counter("footfall_actor_delivery_gaps_total",
      "Times messages a partition consumer sent never arrived (a gap in its delivery sequence, e.g. the host's nats-server died with them in flight); the partition took them again from the last one handed out", []);
    this.publishRetries = this.counter("footfall_actor_publish_retries_total", "JetStream publishes from actors retried after a failure", []);
    this.influxPoints = this.counter("footfall_actor_influx_points_total", "InfluxDB points written by actors", []);
    this.influxFailures = this.counter("footfall_actor_influx_failures_total", "Failed InfluxDB batch writes (retried) and rejected points (dropped)", ["outcome"]);
    const sum = (f: (s: { pending: number; oldestMs: number; failingMs: number }) => number, max = false) =>
      this.backlogSources.map((s) => f(s())).reduce((a, b) => (max ? Math.max(a, b) : a + b), 0);
    const sources = this.backlogSources;
    if (!BACKLOG_SOURCES.has(registry)) BACKLOG_SOURCES.set(registry, sources);
    gauge(registry, "footfall_actor_influx_backlog_points", "InfluxDB points waiting to be written (InfluxDB down or slow)", [],
      function collect() { this.set(sources.length ? sum((s) => s.pending) : 0); });
    gauge(registry, "footfall_actor_influx_backlog_oldest_seconds", "Age of the oldest InfluxDB point waiting to be written", [],
      function collect() { this.set(sources.length ? sum((s) => s.oldestMs, true) / 1000 : 0); });
    gauge(registry, "footfall_actor_influx_failing_seconds", "How long InfluxDB writes have been failing without a success (0: the last one succeeded)", [],
      function collect() { this.set(sources.length ? sum((s) => s.failingMs, true) / 1000 : 0); });
  }

  /** Reports an InfluxDB writer's backlog in the backlog gauges (read when /metrics is scraped). */
  influxBacklog(source: BacklogSource): void {
    this.backlogSources.push(source);
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return counter(this.registry, name, help, labelNames);
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return gauge(this.registry, name, help, labelNames);
  }

  private histogram<L extends string>(name: string, help: string, labelNames: L[]): Histogram<L> {
    return histogram(this.registry, name, help, labelNames, PROCESSING_BUCKETS);
  }
}
