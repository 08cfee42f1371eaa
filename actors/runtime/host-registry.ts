import type { KV } from "@nats-io/kv";
import type { Logger } from "../../infra/log.ts";
import { encodeJson } from "./snapshot-store.ts";

/**
 * Live actor hosts in KV_HOSTS: each host puts its key (its host id) every renewal period; the
 * bucket TTL removes the key of a host that stopped announcing itself.
 */
export class HostRegistry {
  private lastCount = 1;

  constructor(private readonly kv: KV, readonly hostId: string, private readonly log: Logger) {}

  async announce(info: { partitions: number[]; at: number }): Promise<void> {
    await this.kv.put(this.hostId, encodeJson({ hostId: this.hostId, ...info }));
  }

  /** How many hosts are alive (this one included). On a failed lookup, the last answer. */
  async liveHosts(timeoutMs = 2000): Promise<number> {
    try {
      const ids = new Set<string>([this.hostId]);
      const lookup = (async () => {
        for await (const k of await this.kv.keys()) ids.add(k);
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error("hosts lookup timed out")), timeoutMs); });
      try { await Promise.race([lookup, timeout]); } finally { clearTimeout(timer); }
      lookup.catch(() => {});
      this.lastCount = ids.size;
    } catch (e) {
      this.log.debug({ err: e }, "live hosts lookup failed; keeping the last count");
    }
    return this.lastCount;
  }

  async leave(): Promise<void> {
    await this.kv.delete(this.hostId);
  }
}
