import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KV_TOPOLOGY } from "../contracts/nats-layout.ts";
import type { Logger } from "../infra/log.ts";

/** Receives every site's topology: the parsed JSON of a PUT, or undefined when the site was deleted. */
export type TopologySink = (site: string, revision: number, json: unknown | undefined) => void;

/**
 * Follows KV ff_topology: every current value is delivered before open() returns, then every
 * change as it happens. If the watch ever ends (e.g. its consumer vanished with a restarted
 * server) it watches again from the next revision. Values that are not JSON are logged and skipped.
 */
export class TopologyWatch {
  private lastRevision = 0;
  private readonly revisions = new Map<string, number>();
  private closed = false;
  private stopWatch: (() => void) | undefined;

  private constructor(private readonly sink: TopologySink, private readonly log?: Logger) {}

  static async open(nc: NatsConnection, sink: TopologySink, log?: Logger): Promise<TopologyWatch> {
    const w = new TopologyWatch(sink, log);
    const kv = await new Kvm(nc).open(KV_TOPOLOGY);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await kv.get(k);
      if (e) w.apply(e.key, e.revision, e.operation, e.value);
    }
    const first = await kv.watch();
    w.stopWatch = () => first.stop();
    void w.follow(nc, kv, first);
    return w;
  }

  close(): void {
    this.closed = true;
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  private async follow(nc: NatsConnection, kv: KV, first: Awaited<ReturnType<KV["watch"]>>): Promise<void> {
    let it: Awaited<ReturnType<KV["watch"]>> | undefined = first;
    while (!this.closed && !nc.isClosed()) {
      try {
        if (!it) {
          it = await kv.watch({ resumeFromRevision: this.lastRevision + 1 });
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

  private apply(site: string, revision: number, operation: string, value: Uint8Array): void {
    if (revision > this.lastRevision) this.lastRevision = revision;
    if ((this.revisions.get(site) ?? 0) >= revision) return;
    this.revisions.set(site, revision);
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
