import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { KV_HOSTS } from "../../contracts/nats-layout.ts";
import { KvFollow } from "../../infra/kv-follow.ts";
import { guardWatch } from "../../infra/kv-watch-guard.ts";
import type { Logger } from "../../infra/log.ts";
import { encodeJson } from "./snapshot-store.ts";

/**
 * Live actor hosts in KV_HOSTS: each host puts its key (its host id) every renewal period; the
 * bucket TTL removes the key of a host that stopped announcing itself.
 *
 * Every host follows the bucket with one kept-open watch (infra/kv-follow.ts) and counts a host
 * as alive while its last announcement was seen less than the bucket's TTL ago, a clean leave
 * (the key deleted) at once. Listing the bucket's keys on every check instead would make a new
 * ordered consumer each time, which on a cluster is a placement through the meta leader, several
 * per second with a few hosts. An expired key is not announced by the server (the bucket's max
 * age removes it silently), so a dead host is dropped by its silence, as the bucket drops it.
 */
export class HostRegistry {
  /** host id -> when this process last saw it announce itself (its own clock) */
  private readonly seen = new Map<string, number>();
  private lastRevision = 0;
  private follower: KvFollow | undefined;
  private stopGuard: (() => void) | undefined;

  constructor(private readonly kv: KV, readonly hostId: string, private readonly ttlMs: number, private readonly log: Logger) {}

  /** Starts following the bucket (rejects if the watch cannot be started). */
  async follow(nc: NatsConnection): Promise<void> {
    const follower = new KvFollow(this.kv, {
      apply: (e) => this.apply(e), after: () => this.lastRevision, what: "live actor hosts", log: this.log,
    });
    this.follower = follower;
    await follower.start();
    this.stopGuard = guardWatch({ nc, bucket: KV_HOSTS, delivered: () => this.lastRevision, rewatch: () => follower.rewatch(), log: this.log });
  }

  /** An entry of the watch: an announcement (put) or a host leaving (delete, purge). */
  apply(e: Pick<KvWatchEntry, "key" | "operation" | "revision">, now = Date.now()): void {
    this.lastRevision = Math.max(this.lastRevision, e.revision);
    if (e.operation === "PUT") this.seen.set(e.key, now);
    else this.seen.delete(e.key);
  }

  async announce(info: { partitions: number[]; at: number }): Promise<void> {
    await this.kv.put(this.hostId, encodeJson({ hostId: this.hostId, ...info }));
  }

  /** How many hosts are alive (this one included): those whose announcement was seen within the TTL. */
  liveHosts(now = Date.now()): number {
    let n = 1;
    for (const [id, at] of this.seen) {
      if (now - at >= this.ttlMs) this.seen.delete(id);
      else if (id !== this.hostId) n++;
    }
    return n;
  }

  async leave(): Promise<void> {
    this.stop();
    await this.kv.delete(this.hostId);
  }

  /** Stops following the bucket. */
  stop(): void {
    this.stopGuard?.();
    this.stopGuard = undefined;
    this.follower?.stop();
  }
}
