import type { IPoint } from "influx";
import { Registry } from "prom-client";
import type { CrossingMsg } from "../../../contracts/occupancy-messages.ts";
import { OUTSIDE } from "../../../contracts/ids.ts";
import type { TopologyLookup } from "../../../topology/topology-lookup.ts";
import { StaticSiteLookup } from "../../../topology/site-geometry.ts";
import { buildKinds } from "../../../actors/kinds.ts";
import type { ActorBehavior, BehaviorRegistry } from "../../../actors/runtime/types.ts";
import { meta, RecordingContext, type Emitted } from "./recording-context.ts";
import { truthAt, truthPoints, type TruthEvent } from "./ground-truth.ts";

interface Live { behavior: ActorBehavior<unknown>; state: unknown; ctx: RecordingContext; touched: boolean }

/**
 * Drives the occupancy behaviours (built by the host's registry of kinds) the way the runtime does (one message at a time per actor,
 * flush of touched actors, snapshots through encode/JSON/decode), delivering each actor's sends
 * to the target actor. Written points are kept as InfluxDB keeps them: measurement + tags +
 * timestamp, later writes overwrite.
 */
export class OccupancyHarness {
  readonly registry = new Registry();
  readonly behaviors: BehaviorRegistry;
  readonly points = new Map<string, IPoint>();
  readonly events: Emitted[] = [];
  private actors = new Map<string, Live>();
  private queue: Array<{ kind: string; id: string; body: unknown }> = [];
  private seq = 0;

  constructor(opts: { topology: TopologyLookup; lateHorizonHours: number; onWrite?: (points: IPoint[]) => void }) {
    // crossings are not refused for being ahead of this harness's fixed clock (maxFutureMs 0)
    this.behaviors = buildKinds({
      topology: opts.topology, sites: new StaticSiteLookup([]), config: { lateHorizonHours: opts.lateHorizonHours, maxFutureMs: 0 }, registry: this.registry,
    });
    this.onWrite = opts.onWrite;
  }
  private onWrite: ((points: IPoint[]) => void) | undefined;

  crossing(c: CrossingMsg): void {
    this.queue.push({ kind: "doorway", id: `${c.site}.${c.doorway}`, body: c });
  }

  /** Handles everything queued (and what that sends), without flushing. */
  run(): void {
    for (let m = this.queue.shift(); m; m = this.queue.shift()) {
      const a = this.actor(m.kind, m.id);
      a.behavior.handle(a.state, m.body, a.ctx, meta(++this.seq));
      a.touched = true;
      this.collect(a);
    }
  }

  /** Flushes every actor that handled something since its last flush. */
  flush(): void {
    for (const a of this.actors.values()) {
      if (!a.touched) continue;
      a.touched = false;
      a.behavior.flush?.(a.state, a.ctx);
      this.collect(a);
    }
  }

  /** Runs and flushes until nothing moves any more. */
  settle(): void {
    for (let i = 0; i < 100 && (this.queue.length > 0 || [...this.actors.values()].some((a) => a.touched)); i++) {
      this.run();
      this.flush();
    }
  }

  /** Every actor's state through encode -> JSON -> decode, as passivation and restart do. */
  passivateAll(): void {
    for (const [k, a] of this.actors) {
      const raw = JSON.parse(JSON.stringify(a.behavior.encode!(a.state)));
      a.state = a.behavior.decode!(raw, k.slice(k.indexOf("/") + 1));
    }
  }

  /** [ms, count] of a series as InfluxDB would hold it, ascending. */
  series(measurement: string, tags: Record<string, string>): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const p of this.points.values()) {
      if (p.measurement !== measurement) continue;
      if (Object.entries(tags).some(([k, v]) => p.tags?.[k] !== v)) continue;
      out.push([Number(BigInt(String(p.timestamp)) / 1_000_000n), p.fields!.count as number]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  actor(kind: string, id: string): Live {
    const k = `${kind}/${id}`;
    let a = this.actors.get(k);
    if (!a) {
      const behavior = this.behaviors.get(kind) as ActorBehavior<unknown>;
      a = { behavior, state: behavior.initialState(id), ctx: new RecordingContext(kind, id), touched: false };
      this.actors.set(k, a);
    }
    return a;
  }

  private collect(a: Live): void {
    const { sends, writes, emits } = a.ctx.take();
    for (const s of sends) this.queue.push({ kind: s.kind, id: s.id, body: s.body });
    for (const p of writes) this.points.set(`${p.measurement}|${JSON.stringify(p.tags)}|${String(p.timestamp)}`, p);
    if (writes.length > 0) this.onWrite?.(writes);
    this.events.push(...emits);
  }
}

/** Ground truth of a site from crossings (deduplicated by key) and doorway ends. */
export function siteTruth(crossings: readonly CrossingMsg[], topology: TopologyLookup, spaces: readonly string[]) {
  const bySpace = new Map<string, TruthEvent[]>(spaces.map((s) => [s, []]));
  const seen = new Set<string>();
  for (const c of crossings) {
    const key = `${c.device}:${c.eventId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ends = topology.doorway(c.site, c.doorway)!;
    if (ends.entering_to !== OUTSIDE) bySpace.get(ends.entering_to)!.push({ ts: c.ts, key, delta: c.delta });
    if (ends.exiting_to !== OUTSIDE) bySpace.get(ends.exiting_to)!.push({ ts: c.ts, key, delta: c.delta === 1 ? -1 : 1 });
  }
  const perSpace = new Map([...bySpace].map(([s, evs]) => [s, truthPoints(evs)]));
  const instants = [...new Set([...perSpace.values()].flatMap((p) => p.map((x) => x[0])))].sort((a, b) => a - b);
  const site = instants.map((t): [number, number] => [t, [...perSpace.values()].reduce((sum, p) => sum + truthAt(p, t), 0)]);
  return { perSpace, site };
}
