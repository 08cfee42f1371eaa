import type { Logger } from "../infra/log.ts";
import type { BrokerMetrics } from "./broker-metrics.ts";

/** aedes' authorizePublish callback: null lets the publish through (and its PUBACK out), an error closes the connection. */
export type PublishDone = (err?: Error | null) => void;

/** One accepted device publish on its way into JetStream. */
export interface StoreJob<R> {
  /** the topic type (label of footfall_broker_publishes_accepted_total) */
  type: string;
  /** "after-store": done only once stored; "at-once": done now, stored best effort */
  ack: "after-store" | "at-once";
  device: string;
  clientId: string;
  qos: number;
  /** what the log lines say about the message (event count, sequence number) */
  fields?: Record<string, unknown> | undefined;
  store(): Promise<R>;
  /** counts what was stored, before the device is acknowledged */
  stored?(result: R): void;
}

/**
 * The one place a device publish waits for JetStream. aedes writes a QoS 1 PUBACK (QoS 2 PUBREC)
 * only after authorizePublish calls back, so calling back once JetStream stored the message is
 * what makes an acknowledged message a stored one. When JetStream does not confirm, a QoS >= 1
 * publish is failed: aedes closes the connection without acknowledging and the device resends on
 * reconnect (Nats-Msg-Id de-duplicates); QoS 0 has no acknowledgement to withhold, so the
 * connection stays. Every store is tracked so that a clean close lets it finish first.
 */
export class AckAfterStore {
  private inflight = 0;
  private idle: Array<() => void> = [];
  /** footfall_broker_publishes_accepted_total{type} by type, bound once (no label hashing per message) */
  private readonly acceptedOf = new Map<string, { inc(): void }>();

  constructor(private readonly metrics: BrokerMetrics, private readonly log: Logger) {}

  run<R>(job: StoreJob<R>, done: PublishDone): void {
    const afterStore = job.ack === "after-store";
    const started = afterStore ? performance.now() : 0;
    const accepted = this.accepted(job.type);
    if (!afterStore) {
      accepted.inc();
      done(null);
    }
    this.inflight++;
    job.store().then(
      (result) => {
        try {
          if (afterStore) {
            this.metrics.bridgeLatency.observe((performance.now() - started) / 1000);
            accepted.inc();
          }
          job.stored?.(result);
          if (this.log.isLevelEnabled("debug")) this.log.debug({ device: job.device, type: job.type, qos: job.qos, ...job.fields }, "publish stored");
          if (afterStore) done(null); // now aedes may send the PUBACK
        } finally {
          this.finished();
        }
      },
      (err: unknown) => {
        try {
          this.metrics.bridgeFailures.inc();
          const about = { device: job.device, clientId: job.clientId, type: job.type, qos: job.qos, ...job.fields, err };
          if (!afterStore) this.log.warn(about, "best-effort publish not stored: jetstream did not confirm");
          else if (job.qos === 0) {
            this.log.warn(about, "qos 0 publish lost: jetstream did not confirm");
            done(null);
          } else {
            this.log.warn(about, "publish not acknowledged: jetstream did not confirm");
            done(new Error(`not stored: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
          }
        } finally {
          this.finished();
        }
      },
    );
  }

  /** Resolves once every store begun so far, and any begun meanwhile, has finished. */
  settled(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private accepted(type: string): { inc(): void } {
    let c = this.acceptedOf.get(type);
    if (!c) this.acceptedOf.set(type, c = this.metrics.accepted.labels({ type }));
    return c;
  }

  private finished(): void {
    if (--this.inflight > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
