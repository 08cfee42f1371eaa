import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./log.ts";

/**
 * Tells a stuck KV watch from a busy one: the bucket holds revisions the watch has not delivered,
 * and the watch delivered nothing new since the previous check, `checks` checks in a row.
 */
export class WatchLag {
  private lastDelivered = Number.NaN;
  private stuck = 0;

  constructor(private readonly checks = 2) {}

  /** One check: the bucket's newest revision and the newest one the watch delivered. True: watch again. */
  observe(bucketLast: number, delivered: number): boolean {
    const moved = delivered !== this.lastDelivered;
    this.lastDelivered = delivered;
    if (bucketLast <= delivered || moved) {
      this.stuck = 0;
      return false;
    }
    if (++this.stuck < this.checks) return false;
    this.stuck = 0;
    return true;
  }
}

/** How often a guarded watch is compared with its bucket (ms). */
export const WATCH_CHECK_MS = 5000;

/**
 * Keeps a KV watch honest. The client's ordered consumer re-creates itself when its server goes
 * away, but after a node was cut off from its cluster it can stay silent for good without ending,
 * leaving a stale copy (a removed device still accepted, a new one refused). Every `everyMs` the
 * bucket's last revision is compared with the newest one the watch delivered (`delivered()`); a
 * watch that is behind and has not moved for two checks is handed to `rewatch` (which stops it
 * and watches again from the next revision). Returns the function that stops the checks.
 */
export function guardWatch(o: {
  nc: NatsConnection;
  bucket: string;
  delivered: () => number;
  rewatch: () => void;
  log?: Logger | undefined;
  everyMs?: number;
}): () => void {
  const lag = new WatchLag();
  let checking = false;
  /** made once (it asks the server for its account info), at the first check that can */
  let jsm: JetStreamManager | undefined;
  const timer = setInterval(() => {
    if (checking || o.nc.isClosed()) return;
    checking = true;
    void (async () => {
      try {
        jsm ??= await jetstreamManager(o.nc);
        const last = (await jsm.streams.info(`KV_${o.bucket}`)).state.last_seq;
        const delivered = o.delivered();
        if (lag.observe(last, delivered)) {
          o.log?.warn({ bucket: o.bucket, delivered, last }, "KV watch is behind its bucket and not moving; watching again");
          o.rewatch();
        }
      } catch {
        // the bucket cannot be read now (a server away): nothing to compare, try at the next check
      } finally {
        checking = false;
      }
    })();
  }, o.everyMs ?? WATCH_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
