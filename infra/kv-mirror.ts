import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";
import type { z } from "zod";
import { guardWatch } from "./kv-watch-guard.ts";
import type { Logger } from "./log.ts";
import { issueLines } from "./zod-issues.ts";

/**
 * A KV bucket mirrored in memory: loaded once at open, then kept current by a watch, so a change
 * made by any process takes effect everywhere without a restart. Values that do not parse are
 * logged and treated as absent. If the watch ends while open (e.g. its consumer was lost), it
 * is re-established from the last revision seen.
 */
export class KvMirror<T> {
  private readonly values = new Map<string, T>();
  private readonly listeners = new Set<(key: string, value: T | undefined) => void>();
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private lastRevision = 0;
  private closed = false;
  private stopGuard: (() => void) | undefined;

  private constructor(readonly kv: KV, private readonly schema: z.ZodType<T>, private readonly what: string, private readonly log?: Logger) {}

  static async open<T>(nc: NatsConnection, bucket: string, schema: z.ZodType<T>, what: string, log?: Logger): Promise<KvMirror<T>> {
    const kv = await new Kvm(nc).open(bucket);
    const mirror = new KvMirror(kv, schema, what, log);
    const state = (await (await jetstreamManager(nc)).streams.info(`KV_${bucket}`)).state;
    await mirror.follow(state.messages === 0 ? 0 : state.last_seq);
    mirror.stopGuard = guardWatch({ nc, bucket, delivered: () => mirror.lastRevision, rewatch: () => mirror.watcher?.stop(), log });
    return mirror;
  }

  get(key: string): T | undefined {
    return this.values.get(key);
  }

  entries(): IterableIterator<[string, T]> {
    return this.values.entries();
  }

  get size(): number {
    return this.values.size;
  }

  /** Called after a key was set (value) or removed (undefined); returns the unsubscribe function. */
  onChange(listener: (key: string, value: T | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.stopGuard?.();
    this.watcher?.stop();
    this.listeners.clear();
  }

  /** Resolves once every entry up to `loadedAt` (the bucket's last sequence at open) is applied. */
  private async follow(loadedAt: number): Promise<void> {
    let markLoaded!: () => void;
    const loaded = new Promise<void>((r) => { markLoaded = r; });
    if (loadedAt === 0) markLoaded();
    const start = async (): Promise<void> => {
      const watch = await this.kv.watch(this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision + 1 } : {});
      this.watcher = watch;
      if (this.closed) watch.stop();
      (async () => {
        for await (const e of watch) {
          this.apply(e);
          if (e.isUpdate || e.revision >= loadedAt) markLoaded();
        }
      })()
        .catch((err: unknown) => this.log?.warn({ err, what: this.what }, "kv watch failed"))
        .finally(() => {
          if (this.closed) return;
          this.log?.warn({ what: this.what, revision: this.lastRevision }, "kv watch ended; watching again");
          setTimeout(() => { void this.restart(start); }, 500).unref();
        });
    };
    await start();
    await loaded;
  }

  private async restart(start: () => Promise<void>): Promise<void> {
    while (!this.closed) {
      try { await start(); return; } catch (err) {
        this.log?.warn({ err, what: this.what }, "kv watch could not start; retrying");
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  }

  private apply(e: KvWatchEntry): void {
    if (e.revision > this.lastRevision) this.lastRevision = e.revision;
    if (e.operation === "DEL" || e.operation === "PURGE") return this.set(e.key, undefined);
    let parsed: z.ZodSafeParseResult<T>;
    try {
      parsed = this.schema.safeParse(JSON.parse(e.string()));
    } catch (err) {
      this.log?.warn({ what: this.what, key: e.key, revision: e.revision, reason: "invalid JSON", err }, "kv value ignored");
      return this.set(e.key, undefined);
    }
    if (!parsed.success) {
      this.log?.warn({ what: this.what, key: e.key, revision: e.revision, reason: issueLines(parsed.error).join("; ") }, "kv value ignored");
      return this.set(e.key, undefined);
    }
    this.set(e.key, parsed.data);
  }

  private set(key: string, value: T | undefined): void {
    if (value === undefined && !this.values.delete(key)) return;
    if (value !== undefined) this.values.set(key, value);
    for (const l of this.listeners) {
      try { l(key, value); } catch (err) { this.log?.error({ err, what: this.what, key }, "kv change listener failed"); }
    }
  }
}
