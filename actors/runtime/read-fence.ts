import type { KV } from "@nats-io/kv";
import { backoffMs, sleep } from "../../infra/backoff.ts";

/** What a ReadFence needs from the stream behind a KV bucket. */
export interface FenceIo {
  /** name of the stream's leader ("" while it has none); undefined when the stream has a single replica (nothing to fence) */
  leader(): Promise<string | undefined>;
  /** a write through the stream, resolved when its leader acknowledged it */
  barrier(): Promise<void>;
}

/** Thrown when the stream had no leader, or changed it, during every attempt. */
export class UnsettledError extends Error {
  constructor(attempts: number) {
    super(`the stream had no leader, or changed it, during each of ${attempts} attempts to read through it`);
    this.name = "UnsettledError";
  }
}

interface Pending { run: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }

/**
 * Reads of a replicated KV bucket that are never older than a write acknowledged before they
 * began. A newly elected stream leader of nats-server 2.9 and 2.10 answers reads before it has
 * applied every entry it committed, so a plain get right after an election can return an older
 * value. A fenced read therefore runs as: note the leader, write a barrier (its leader
 * acknowledges it only after applying every earlier entry), read, and note the leader again; when
 * the two differ the reads are run again. Reads asked for while a round runs share the next
 * round, so a burst of loads costs one barrier. A single-replica stream is read directly.
 */
export class ReadFence {
  private queue: Pending[] = [];
  private running = false;

  constructor(private readonly io: FenceIo, private readonly maxAttempts = 8, private readonly pause = (attempt: number) => sleep(backoffMs(attempt))) {}

  read<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const round = this.queue;
        this.queue = [];
        await this.round(round);
      }
    } finally {
      this.running = false;
    }
  }

  private async round(reads: Pending[]): Promise<void> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      let results: PromiseSettledResult<unknown>[];
      try {
        const before = await this.io.leader();
        if (before === undefined) {
          results = await Promise.allSettled(reads.map((r) => r.run()));
        } else {
          if (before === "") {
            await this.pause(attempt);
            continue;
          }
          await this.io.barrier();
          results = await Promise.allSettled(reads.map((r) => r.run()));
          if ((await this.io.leader()) !== before) {
            await this.pause(attempt);
            continue;
          }
        }
      } catch (e) {
        for (const r of reads) r.reject(e);
        return;
      }
      results.forEach((res, i) => (res.status === "fulfilled" ? reads[i]!.resolve(res.value) : reads[i]!.reject(res.reason)));
      return;
    }
    const e = new UnsettledError(this.maxAttempts);
    for (const r of reads) r.reject(e);
  }
}

/** Key of the barrier a ReadFence writes into the bucket it guards. */
export const FENCE_KEY = "fence";

/** How long a bucket found with a single replica is taken to keep it (it is asked again after). */
const SINGLE_REPLICA_RECHECK_MS = 30_000;

/**
 * The FenceIo of a KV bucket: its stream's leader from the stream info, the barrier a put. A
 * single-replica stream is not asked again for a while, so its reads cost no extra request.
 */
export function kvFenceIo(kv: KV, now = () => performance.now()): FenceIo {
  const stamp = new TextEncoder();
  let singleUntil = -Infinity;
  return {
    leader: async () => {
      if (now() < singleUntil) return undefined;
      const si = (await kv.status()).streamInfo;
      if (si.config.num_replicas > 1) return si.cluster?.leader ?? "";
      singleUntil = now() + SINGLE_REPLICA_RECHECK_MS;
      return undefined;
    },
    barrier: async () => { await kv.put(FENCE_KEY, stamp.encode(String(Date.now()))); },
  };
}
