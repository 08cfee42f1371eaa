import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import type { z } from "zod";
import { KvFollow } from "./kv-follow.ts";
import { guardWatch } from "./kv-watch-guard.ts";
import type { Logger } from "./log.ts";
import { issueLines } from "./zod-issues.ts";

/**
 * A KV bucket mirrored in memory: loaded once at open, then kept current by a watch, so a change
 * made by any process takes effect everywhere without a restart. Values that do not parse are
 * logged and treated as absent. If the watch ends while open (e.g. its consumer was lost), it
 * is re-established from the last revision seen (infra/kv-follow.ts).
 */
export class KvMirror<T> {
  private readonly values = new Map<string, T>();
  private readonly listeners = new Set<(key: string, value: T | undefined) => void>();
  private follower: KvFollow | undefined;
  private lastRevision = 0;
  private stopGuard: (() => void) | undefined;

  private constructor(readonly kv: KV, private readonly schema: z.ZodType<T>, private readonly what: string, private readonly log?: Logger) {}

  static async open<T>(nc: NatsConnection, bucket: string, schema: z.ZodType<T>, what: string, log?: Logger): Promise<KvMirror<T>> {
    const kv = await new Kvm(nc).open(bucket);
    const mirror = new KvMirror(kv, schema, what, log);
    const state = (await (await jetstreamManager(nc)).streams.info(`KV_${bucket}`)).state;
    const follower = new KvFollow(kv, {
      apply: (e) => mirror.apply(e), after: () => mirror.lastRevision, what, log, loadedAt: state.messages === 0 ? 0 : state.last_seq,
    });
    mirror.follower = follower;
    await follower.start();
    await follower.loaded;
    mirror.stopGuard = guardWatch({ nc, bucket, delivered: () => mirror.lastRevision, rewatch: () => follower.rewatch(), log });
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
    this.stopGuard?.();
    this.follower?.stop();
    this.listeners.clear();
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
