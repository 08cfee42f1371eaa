import { DeliverPolicy, jetstreamManager, type Consumer, type ConsumerMessages, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { EVENT_SUBJECT_ROOT, personEventSubject, STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import { backoffMs, pause } from "../../infra/backoff.ts";
import type { Logger } from "../../infra/log.ts";
import { readEvent, StreamRead, type StreamEvent } from "./stream-reads.ts";

export interface FeedHandler {
  /** an event of the start-up read (the newest per subject, recent people): state only */
  bootstrap(e: StreamEvent): void;
  /** an event of the live feed, in stream order */
  live(e: StreamEvent): void;
  /** a message that is not a valid event */
  invalid(seq: number, subject: string, reason: string): void;
}

const ALL_EVENTS = `${EVENT_SUBJECT_ROOT}.>`;

/**
 * The gateway process's one reader of FF_EVENTS. At start it reads the newest event of every
 * subject (counts, totals, alerts) and the people of the last `peopleWindowMs`, then follows the
 * stream with one ordered consumer from there. `position` is the sequence of the last event
 * handed to `live` (every event up to it has been applied); `ready` resolves once the feed has
 * caught up with what the stream held when it started. Whenever the consumer is lost (NATS
 * restarted, consumer gone, stalled), a new one is created from position + 1: nothing skipped,
 * nothing repeated.
 */
export class EventFeed {
  private consumer: Consumer | undefined;
  private iter: ConsumerMessages | undefined;
  private stopped = false;
  private bootstrapped = false;
  private pos = 0;
  private readyAt = Infinity;
  private resolveReady!: () => void;
  readonly ready: Promise<void>;
  private isReady = false;
  private waitingSince: number | undefined;
  private suspicion = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly handler: FeedHandler,
    private readonly log: Logger,
    private readonly peopleWindowMs: number,
    private readonly probeMs = 2000,
  ) {
    this.ready = new Promise((r) => { this.resolveReady = r; });
  }

  get position(): number { return this.pos; }

  /** Has caught up with the stream once. */
  get caughtUp(): boolean { return this.isReady; }

  /** Caught up once, consumer in place and not stalled, NATS connected. */
  alive(): boolean {
    return this.isReady && !this.stopped && this.iter !== undefined && this.suspicion < 2 && !this.nc.isClosed();
  }

  start(): void {
    this.watchdog = setInterval(() => void this.probe(), this.probeMs);
    this.watchdog.unref();
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.iter?.stop();
    await this.running;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        if (!this.bootstrapped) await this.bootstrap();
        if (this.stopped) break;
        this.consumer = await this.js.consumers.get(STREAM_EVENTS, { filter_subjects: ALL_EVENTS, opt_start_seq: this.pos + 1 });
        if (this.stopped) break;
        this.iter = await this.consumer.consume({ max_messages: 512, expires: 5000 });
        this.suspicion = 0;
        this.waitingSince = performance.now();
        for await (const m of this.iter) {
          this.waitingSince = undefined;
          attempt = 0;
          this.suspicion = 0;
          if (m.seq > this.pos) {
            const e = readEvent(m);
            this.pos = m.seq;
            if ("invalid" in e) this.handler.invalid(m.seq, m.subject, e.invalid);
            else this.handler.live(e);
            this.checkReady();
          }
          if (this.stopped) break;
          this.waitingSince = performance.now();
        }
      } catch (err) {
        if (!this.stopped) this.log.warn({ err, attempt, position: this.pos }, "live feed consumer failed; recreating");
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
  }

  /**
   * The state before following: the newest event per subject, then the people of the last
   * window up to the stream's last sequence `last` (the feed follows from last + 1).
   */
  private async bootstrap(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const last = (await jsm.streams.info(STREAM_EVENTS)).state.last_seq;
    const newest = new StreamRead(this.js, { filter_subjects: ALL_EVENTS, deliver_policy: DeliverPolicy.LastPerSubject });
    let count = 0;
    for await (const m of newest.messages()) {
      const e = readEvent(m);
      if ("invalid" in e) continue;
      if (e.event.type === "person.update" || e.event.type === "track.update" || e.event.type === "ingest.rate") continue;
      this.handler.bootstrap(e);
      count++;
    }
    if (last > 0) {
      const since = new Date(Date.now() - this.peopleWindowMs).toISOString();
      const people = new StreamRead(this.js, { filter_subjects: personEventSubject("*"), opt_start_time: since }, last);
      for await (const m of people.messages()) {
        const e = readEvent(m);
        if (!("invalid" in e)) { this.handler.bootstrap(e); count++; }
      }
    }
    // everything stored until now is what "caught up" means
    this.readyAt = (await jsm.streams.info(STREAM_EVENTS)).state.last_seq;
    this.pos = last;
    this.bootstrapped = true;
    this.log.info({ events: count, position: last, readyAt: this.readyAt }, "live feed state loaded");
    this.checkReady();
  }

  private checkReady(): void {
    if (this.isReady || this.pos < this.readyAt) return;
    this.isReady = true;
    this.log.info({ position: this.pos }, "live feed caught up");
    this.resolveReady();
  }

  /** Every probeMs: recreate the consumer if it has messages for us but delivers none for two probes in a row. */
  private async probe(): Promise<void> {
    const c = this.consumer;
    if (this.stopped || !c || !this.iter) return;
    if (this.waitingSince === undefined) { this.suspicion = 0; return; }
    try {
      const info = await c.info();
      if (c !== this.consumer) return;
      if (this.waitingSince === undefined) { this.suspicion = 0; return; }
      const idle = performance.now() - this.waitingSince;
      this.suspicion = info.num_pending > 0 && idle > this.probeMs ? this.suspicion + 1 : 0;
    } catch (err) {
      if (c !== this.consumer) return;
      this.suspicion++;
      this.log.debug({ err }, "live feed consumer probe failed");
    }
    if (this.suspicion >= 2 && !this.stopped) {
      this.log.warn({ position: this.pos }, "live feed consumer stalled or gone; recreating");
      this.iter?.stop();
    }
  }
}
