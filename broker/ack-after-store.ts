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
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly metrics: BrokerMetrics, private readonly log: Logger) {}

  run<R>(job: StoreJob<R>, done: PublishDone): void {
    const afterStore = job.ack === "after-store";
    const timer = afterStore ? this.metrics.bridgeLatency.startTimer() : undefined;
    if (!afterStore) {
      this.metrics.accepted.inc({ type: job.type });
      done(null);
    }
    const task = job.store().then(
      (result) => {
        timer?.();
        if (afterStore) this.metrics.accepted.inc({ type: job.type });
        job.stored?.(result);
        this.log.debug({ device: job.device, type: job.type, qos: job.qos, ...job.fields }, "publish stored");
        if (afterStore) done(null); // now aedes may send the PUBACK
      },
      (err: unknown) => {
        this.metrics.bridgeFailures.inc();
        const about = { device: job.device, clientId: job.clientId, type: job.type, qos: job.qos, ...job.fields, err };
        if (!afterStore) return this.log.warn(about, "best-effort publish not stored: jetstream did not confirm");
        if (job.qos === 0) {
          this.log.warn(about, "qos 0 publish lost: jetstream did not confirm");
          return done(null);
        }
        this.log.warn(about, "publish not acknowledged: jetstream did not confirm");
        done(new Error(`not stored: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      },
    );
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  /** Resolves once every store begun so far, and any begun meanwhile, has finished. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}
