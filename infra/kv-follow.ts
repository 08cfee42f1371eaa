import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";
import type { Logger } from "./log.ts";

export interface KvFollowOptions {
  /** every entry the watch delivers, in revision order */
  apply(e: KvWatchEntry): void;
  /** the last revision applied: a new watch resumes after it (0: from the start of the bucket) */
  after(): number;
  /** what is followed, for the log lines */
  what: string;
  log?: Logger | undefined;
  /** `loaded` resolves once an entry at or past this revision (or an update) is applied; 0: at once */
  loadedAt?: number;
}

/**
 * Follows a KV bucket for as long as it is open: a watch from `after() + 1` on, its entries
 * handed to `apply`. If the watch ends while open (its consumer was lost, NATS restarted), it is
 * started again 500 ms later after the last revision applied, retried every second until it
 * starts. The in-memory views of KV buckets (device registry, key store, chunk index) follow
 * their buckets with it.
 */
export class KvFollow {
  /** resolves once every entry up to loadedAt is applied */
  readonly loaded: Promise<void>;
  private markLoaded!: () => void;
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private stopped = false;

  constructor(private readonly kv: KV, private readonly o: KvFollowOptions) {
    this.loaded = new Promise<void>((r) => { this.markLoaded = r; });
    if (!o.loadedAt) this.markLoaded();
  }

  /** Starts the first watch; rejects if it cannot be started. */
  async start(): Promise<void> {
    const from = this.o.after();
    const watch = await this.kv.watch(from > 0 ? { resumeFromRevision: from + 1 } : {});
    this.watcher = watch;
    if (this.stopped) watch.stop();
    const loadedAt = this.o.loadedAt ?? 0;
    (async () => {
      for await (const e of watch) {
        this.o.apply(e);
        if (e.isUpdate || e.revision >= loadedAt) this.markLoaded();
      }
    })()
      .catch((err: unknown) => this.o.log?.warn({ err, what: this.o.what }, "kv watch failed"))
      .finally(() => {
        if (this.stopped) return;
        this.o.log?.warn({ what: this.o.what, revision: this.o.after() }, "kv watch ended; watching again");
        setTimeout(() => { void this.restart(); }, 500).unref();
      });
  }

  /** Ends the current watch: it is started again after the last revision applied. */
  rewatch(): void {
    this.watcher?.stop();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    this.markLoaded();
  }

  private async restart(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.start();
        return;
      } catch (err) {
        this.o.log?.warn({ err, what: this.o.what }, "kv watch could not start; retrying");
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  }
}
