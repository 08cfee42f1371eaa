import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { partitionFilter, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";

/**
 * The messages of one partition, in stream order, from a given sequence on: an ordered
 * consumer on FF_ACTORS filtered by `act.{n}.>` (a single filter string, which nats-server 2.9
 * accepts). Whenever the consumer is lost (NATS restarted, consumer gone, stalled), a new one is
 * created from the last sequence handed out, so nothing is skipped and nothing repeated.
 */
export class PartitionFeed {
  private consumer: Consumer | undefined;
  private iter: ConsumerMessages | undefined;
  private stopped = false;
  private cursor = 0;
  private pending = 0;
  /** performance.now() since which we wait for the next message; undefined while the caller handles one */
  private waitingSince: number | undefined;
  private suspicion = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly js: JetStreamClient,
    readonly partition: number,
    private readonly log: Logger,
    private readonly probeMs = 2000,
  ) {}

  /** Messages still waiting in the partition (as last seen). */
  depth(): number { return this.pending; }

  /** The stream sequence of the last message handed out. */
  position(): number { return this.cursor; }

  async *messages(afterSeq: number): AsyncGenerator<JsMsg> {
    this.cursor = afterSeq;
    this.watchdog = setInterval(() => void this.probe(), this.probeMs);
    this.watchdog.unref();
    try {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          this.consumer = await this.js.consumers.get(STREAM_ACTORS, {
            filter_subjects: partitionFilter(this.partition),
            opt_start_seq: this.cursor + 1,
          });
          if (this.stopped) break;
          this.iter = await this.consumer.consume({ max_messages: 256, expires: 5000 });
          this.waitingSince = performance.now();
          for await (const m of this.iter) {
            this.waitingSince = undefined;
            attempt = 0;
            this.suspicion = 0;
            if (m.seq > this.cursor) {
              this.pending = m.info.pending;
              yield m;
              this.cursor = m.seq;
            }
            if (this.stopped) break;
            this.waitingSince = performance.now();
          }
        } catch (e) {
          if (!this.stopped) this.log.warn({ partition: this.partition, err: e, attempt }, "partition consumer failed; recreating");
        } finally {
          this.waitingSince = undefined;
          this.iter?.stop();
          this.iter = undefined;
          const c = this.consumer;
          this.consumer = undefined;
          c?.delete().catch(() => {});
        }
        if (!this.stopped) await pause(backoffMs(attempt, 2000));
      }
    } finally {
      clearInterval(this.watchdog);
    }
  }

  /** Ends the stream of messages (the caller's loop then finishes). */
  stop(): void {
    this.stopped = true;
    this.iter?.stop();
  }

  /**
   * Every probeMs: refresh the depth, and recreate the consumer if it has gone (NATS restarted)
   * or has messages for us but delivers none for two probes in a row.
   */
  private async probe(): Promise<void> {
    const c = this.consumer;
    if (this.stopped || !c || !this.iter) return;
    // busy handling a message: the consumer is evidently alive, and the depth comes with each message
    if (this.waitingSince === undefined) { this.suspicion = 0; return; }
    try {
      const info = await c.info();
      if (c !== this.consumer) return;
      if (this.waitingSince === undefined) { this.suspicion = 0; return; }
      this.pending = info.num_pending;
      const idle = performance.now() - this.waitingSince;
      this.suspicion = info.num_pending > 0 && idle > this.probeMs ? this.suspicion + 1 : 0;
    } catch (e) {
      if (c !== this.consumer) return;
      this.suspicion++;
      this.log.debug({ partition: this.partition, err: e }, "partition consumer probe failed");
    }
    if (this.suspicion >= 2 && !this.stopped) {
      this.log.warn({ partition: this.partition, position: this.cursor }, "partition consumer stalled or gone; recreating");
      this.suspicion = 0;
      this.iter?.stop();
    }
  }
}
