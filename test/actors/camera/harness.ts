import { Registry } from "prom-client";
import { cameraBehavior } from "../../../actors/camera/behavior.ts";
import type { CameraState } from "../../../actors/camera/camera-state.ts";
import type { CameraParams } from "../../../actors/camera/params.ts";
import type { SiteLookup } from "../../../topology/site-geometry.ts";
import type { FloorObs, TrackletsMsg } from "../../../contracts/track-messages.ts";
import { meta, RecordingContext } from "../occupancy/recording-context.ts";
import { CAMERA, SITE, sites } from "./scene.ts";

/** One camera actor over a RecordingContext, with its own metrics registry and a settable wall clock. */
export class CameraHarness {
  readonly registry = new Registry();
  readonly behavior;
  readonly ctx: RecordingContext;
  state: CameraState;
  now = 0;
  private n = 0;

  constructor(params: Partial<CameraParams> = {}, lookup: SiteLookup = sites()) {
    this.behavior = cameraBehavior({ sites: lookup, params, registry: this.registry });
    this.ctx = new RecordingContext("camera", `${SITE}.${CAMERA}`, () => this.now);
    this.state = this.behavior.initialState(this.ctx.id);
  }

  handle(body: unknown): void {
    void this.behavior.handle(this.state, JSON.parse(JSON.stringify(body)), this.ctx, meta(++this.n));
  }

  flush(): void {
    void this.behavior.flush!(this.state, this.ctx);
  }

  /** Snapshot round trip, as a passivated or recovered actor goes through. */
  roundTrip(): void {
    const raw = JSON.parse(JSON.stringify(this.behavior.encode!(this.state)));
    this.state = this.behavior.decode!(raw, this.ctx.id);
  }

  /** TrackletsMsgs sent to the linker that carry updates (not the once-a-second empty ticks). */
  tracklets(): TrackletsMsg[] {
    return this.ctx.sends.filter((s) => s.kind === "linker").map((s) => s.body as TrackletsMsg).filter((m) => m.updates.length > 0);
  }

  /** Every observation sent per tid, in order. */
  paths(): Map<string, FloorObs[]> {
    const out = new Map<string, FloorObs[]>();
    for (const m of this.tracklets()) for (const u of m.updates) {
      const list = out.get(u.tid) ?? [];
      list.push(...u.obs);
      out.set(u.tid, list);
    }
    return out;
  }

  async counter(name: string): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return 0;
    const { values } = await metric.get();
    return values.reduce((s, v) => s + v.value, 0);
  }
}
