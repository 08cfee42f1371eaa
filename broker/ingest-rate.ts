import os from "node:os";
import { randomBytes } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { IngestRate } from "../contracts/events.ts";
import { ingestRateSubject } from "../contracts/nats-layout.ts";
import type { Logger } from "../infra/log.ts";

/** How often a broker publishes its ingest windows (default). */
export const INGEST_WINDOW_MS = 5000;

/** A name for this broker process, usable as a NATS subject token: host, pid and a random suffix. */
export function brokerInstanceId(): string {
  const host = os.hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 32) || "broker";
  return `${host}-${process.pid}-${randomBytes(2).toString("hex")}`;
}

/**
 * Ingest rate: device messages this broker stored in JetStream, by site and message type, counted
 * in a map and flushed on a timer as one IngestRate event per site (evt.ingest.{site}.{broker})
 * for the windows in which the site stored something. A site with nothing stored gets no event.
 */
export class IngestRateCounter {
  private counts = new Map<string, Map<string, number>>();
  private windowStart = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly js: JetStreamClient,
    readonly broker: string,
    private readonly log: Logger,
    private readonly windowMs = INGEST_WINDOW_MS,
  ) {}

  start(): void {
    this.windowStart = Date.now();
    this.timer = setInterval(() => { void this.flush(); }, this.windowMs);
    this.timer.unref();
  }

  /** `n` messages of `type` newly stored for `site`. */
  count(site: string, type: string, n = 1): void {
    if (n <= 0) return;
    let bySite = this.counts.get(site);
    if (!bySite) this.counts.set(site, bySite = new Map());
    bySite.set(type, (bySite.get(type) ?? 0) + n);
  }

  /** Publishes the current window (one event per site that stored something) and starts the next. */
  async flush(now = Date.now()): Promise<void> {
    const counts = this.counts;
    const windowMs = Math.max(1, now - this.windowStart);
    this.counts = new Map();
    this.windowStart = now;
    await Promise.all([...counts].map(async ([site, byType]) => {
      const ev: IngestRate = { type: "ingest.rate", site, broker: this.broker, messages: Object.fromEntries(byType), at: now, windowMs };
      try {
        await this.js.publish(ingestRateSubject(site, this.broker), JSON.stringify(ev), { msgID: `ingest:${this.broker}:${site}:${now}` });
      } catch (err) {
        this.log.warn({ err, site, messages: ev.messages }, "ingest rate not published");
      }
    }));
  }

  /** Stops the timer and publishes what the last window counted. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
