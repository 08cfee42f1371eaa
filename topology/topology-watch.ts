import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KV_TOPOLOGY } from "../contracts/nats-layout.ts";
import { guardWatch } from "../infra/kv-watch-guard.ts";
import type { Logger } from "../infra/log.ts";

/** Receives every site's topology: the parsed JSON of a PUT, or undefined when the site was deleted. */
export type TopologySink = (site: string, revision: number, json: unknown | undefined) => void;

/** A site's value is read again at most this often by refresh() (ms). */
export const REFRESH_EVERY_MS = 2000;

/**
 * Follows KV ff_topology: every current value is delivered before open() returns, then every
 * change as it happens. If the watch ever ends (e.g. its consumer vanished with a restarted
 * server) it watches again from the next revision. Values that are not JSON are logged and skipped.
 *
 * A watch can lag (its consumer being re-created after a partition or a lost server) while the
 * value in KV is already newer: refresh(site) reads the site's value from KV directly, for a
 * reader that must not act on a site it does not know (yet). Values are applied by revision, so
 * the watch delivering an older one afterwards changes nothing.
 */
export class TopologyWatch {
  private lastRevision = 0;
  private readonly revisions = new Map<string, number>();
  /** site -> the read under way, or when the last one ended */
  private readonly refreshes = new Map<string, Promise<void> | number>();
  private closed = false;
  private stopWatch: (() => void) | undefined;
  private stopGuard: (() => void) | undefined;

  private constructor(private readonly kv: KV, private readonly sink: TopologySink, private readonly log?: Logger) {}

  static async open(nc: NatsConnection, sink: TopologySink, log?: Logger): Promise<TopologyWatch> {
    const kv = await new Kvm(nc).open(KV_TOPOLOGY);
    const w = new TopologyWatch(kv, sink, log);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await kv.get(k);
      if (e) w.apply(e.key, e.revision, e.operation, e.value);
    }
    const first = await kv.watch();
    w.stopWatch = () => first.stop();
    void w.follow(nc, first);
    w.stopGuard = guardWatch({ nc, bucket: KV_TOPOLOGY, delivered: () => w.lastRevision, rewatch: () => w.stopWatch?.(), log });
    return w;
  }

  /**
   * Reads `site`'s value from KV now and applies it if it is newer than what the watch delivered.
   * Concurrent calls share one read; a site read less than REFRESH_EVERY_MS ago is not read again
   * (a site that does not exist costs one read per interval, however many ask). Throws when KV
   * cannot be read.
   */
  refresh(site: string): Promise<void> {
    const last = this.refreshes.get(site);
    if (last instanceof Promise) return last;
    if (last !== undefined && performance.now() - last < REFRESH_EVERY_MS) return Promise.resolve();
    const read = (async () => {
      try {
        const e = await this.kv.get(site);
        if (e) this.apply(e.key, e.revision, e.operation, e.value, "read");
        this.refreshes.set(site, performance.now());
      } catch (err) {
        this.refreshes.delete(site);
        throw err;
      }
    })();
    this.refreshes.set(site, read);
    return read;
  }

  close(): void {
    this.closed = true;
    this.stopGuard?.();
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  private async follow(nc: NatsConnection, first: Awaited<ReturnType<KV["watch"]>>): Promise<void> {
    let it: Awaited<ReturnType<KV["watch"]>> | undefined = first;
    while (!this.closed && !nc.isClosed()) {
      try {
        if (!it) {
          it = await this.kv.watch({ resumeFromRevision: this.lastRevision + 1 });
          const current = it;
          this.stopWatch = () => current.stop();
          if (this.closed) current.stop();
        }
        for await (const e of it) this.apply(e.key, e.revision, e.operation, e.value);
      } catch (err) {
        this.log?.warn({ err }, "topology watch failed; watching again");
      }
      it = undefined;
      if (!this.closed) await new Promise((r) => setTimeout(r, 500));
    }
  }

  private apply(site: string, revision: number, operation: string, value: Uint8Array, via: "watch" | "read" = "watch"): void {
    // the watch resumes after lastRevision: a direct read must not move it past revisions of other sites not yet delivered
    if (via === "watch" && revision > this.lastRevision) this.lastRevision = revision;
    if ((this.revisions.get(site) ?? 0) >= revision) return;
    this.revisions.set(site, revision);
    if (via === "read") this.log?.info({ site, revision }, "topology read from KV ahead of the watch");
    if (operation !== "PUT") {
      this.sink(site, revision, undefined);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(value));
    } catch (err) {
      this.log?.warn({ site, revision, err }, "topology value is not JSON; keeping the previous one");
      return;
    }
    this.sink(site, revision, json);
  }
}
