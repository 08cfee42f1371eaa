import { DeliverPolicy, jetstreamManager, type ConsumerMessages, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { EVENT_SUBJECT_ROOT, STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import type { Logger } from "../../infra/log.ts";
import { backoffMs, sleep } from "../../infra/backoff.ts";

/** One FF_EVENTS message: its subject, stream sequence and bytes. */
export interface FeedMessage { subject: string; seq: number; data: Uint8Array }

/**
 * FF_EVENTS for the results: ONE ordered consumer per broker process over every event subject
 * (one filter per consumer, which nats-server 2.9 takes too). It starts with the last message of
 * each subject (DeliverPolicy.LastPerSubject), so the current count of every space and site is
 * known at once, then goes on live. `startSeq` is the stream's last sequence before it began:
 * messages at or below it are the past (a not-retained result among them is stale). `caughtUp`
 * resolves once every last-per-subject message was handed over.
 *
 * If the consumer is lost (NATS restarted, consumer gone, stalled) a new one is made from the
 * sequence after the last message handed over: nothing is skipped, nothing repeated.
 */
export class EventFeed {
  private iter: ConsumerMessages | undefined;
  private stopped = false;
  private cursor = 0;
  private isCaughtUp = false;
  private resolveCaughtUp!: () => void;
  readonly caughtUp = new Promise<void>((r) => { this.resolveCaughtUp = r; });
  private running: Promise<void> | undefined;
  private readonly stop$ = new AbortController();
  startSeq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly onMessage: (m: FeedMessage) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const state = (await (await jetstreamManager(this.nc)).streams.info(STREAM_EVENTS)).state;
    this.startSeq = state.last_seq;
    if (state.messages === 0) this.markCaughtUp();
    this.running = this.run();
  }

  private markCaughtUp(): void {
    if (this.isCaughtUp) return;
    this.isCaughtUp = true;
    this.resolveCaughtUp();
  }

  /** The stream sequence of the last message handed over. */
  position(): number { return this.cursor; }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stop$.abort();
    this.iter?.stop();
    await this.running;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        // until caught up, (again) the last message of each subject: they come in stream order, so
        // those at or below the cursor were handed over already; after that, everything past the cursor
        const consumer = await this.js.consumers.get(STREAM_EVENTS, this.isCaughtUp
          ? { filter_subjects: `${EVENT_SUBJECT_ROOT}.>`, opt_start_seq: this.cursor + 1 }
          : { filter_subjects: `${EVENT_SUBJECT_ROOT}.>`, deliver_policy: DeliverPolicy.LastPerSubject });
        if (this.stopped) break;
        this.iter = await consumer.consume({ max_messages: 512, expires: 5000 });
        for await (const m of this.iter) {
          attempt = 0;
          if (m.seq > this.cursor) {
            this.cursor = m.seq;
            try {
              this.onMessage({ subject: m.subject, seq: m.seq, data: m.data });
            } catch (err) {
              this.log.error({ err, subject: m.subject, seq: m.seq }, "result event handling failed");
            }
          }
          if (m.info.pending === 0) this.markCaughtUp();
          if (this.stopped) break;
        }
      } catch (err) {
        if (!this.stopped) this.log.warn({ err, attempt, position: this.cursor }, "results consumer failed; recreating");
      } finally {
        this.iter?.stop();
        this.iter = undefined;
      }
      if (!this.stopped) await sleep(backoffMs(attempt, 2000), this.stop$.signal);
    }
  }
}
