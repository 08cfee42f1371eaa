import type { KV } from "@nats-io/kv";
import { FencedError, isWrongLastSequence, VersionedKey } from "./versioned-key.ts";

/** KV_LEASES key of a partition's lease. */
export const leaseKey = (partition: number) => `p${partition}`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type RenewOutcome = "held" | "lost" | "unknown";

/**
 * The right to consume one partition. Acquired with kv.create (fails while someone holds it);
 * renewed with kv.update against the revision we hold (CAS), which also restarts the bucket TTL.
 * A dead host's lease expires after the bucket TTL. `valid()` is the holder's own view: the lease
 * surely has not expired on the server before (last successful renewal's send time + ttl).
 */
export class Lease {
  private confirmedAt: number;

  private constructor(
    readonly partition: number,
    private readonly hostId: string,
    private readonly ttlMs: number,
    private readonly key: VersionedKey,
    sentAt: number,
  ) {
    this.confirmedAt = sentAt;
  }

  /** Takes the partition if it is free (or still ours from before); undefined when someone else holds it. */
  static async acquire(kv: KV, partition: number, hostId: string, ttlMs: number): Promise<Lease | undefined> {
    const k = leaseKey(partition);
    const sentAt = performance.now();
    const value = encoder.encode(hostId);
    try {
      const rev = await kv.create(k, value);
      return new Lease(partition, hostId, ttlMs, new VersionedKey(kv, k, rev), sentAt);
    } catch (e) {
      if (!isWrongLastSequence(e)) throw e;
    }
    // held: by us (an earlier attempt whose answer was lost, or a lease we dropped)? then take it back
    const cur = await kv.get(k);
    if (!cur || cur.operation !== "PUT" || decoder.decode(cur.value) !== hostId) return undefined;
    try {
      const rev = await kv.update(k, value, cur.revision);
      return new Lease(partition, hostId, ttlMs, new VersionedKey(kv, k, rev), sentAt);
    } catch (e) {
      if (isWrongLastSequence(e)) return undefined;
      throw e;
    }
  }

  /** "lost": someone else holds it (or it expired and vanished); "unknown": no answer (NATS unreachable). */
  async renew(): Promise<RenewOutcome> {
    const sentAt = performance.now();
    try {
      await this.key.write(encoder.encode(this.hostId));
      this.confirmedAt = sentAt;
      return "held";
    } catch (e) {
      return e instanceof FencedError ? "lost" : "unknown";
    }
  }

  /** True while the lease certainly has not expired on the server (with a safety margin). */
  valid(now = performance.now()): boolean {
    return now < this.confirmedAt + this.ttlMs * 0.9;
  }

  /** Deletes the lease if it is still ours (true); leaves another holder's lease alone (false). */
  async release(): Promise<boolean> {
    return this.key.remove();
  }
}
