import type { IPoint } from "influx";
import { DetectionFrame, frameMsgId } from "../../contracts/detection.ts";
import { TrackUpdate } from "../../contracts/events.ts";
import { ActorKinds } from "../../contracts/nats-layout.ts";
import { TopologyDoc } from "../../contracts/topology.ts";
import { M } from "../../contracts/track-store.ts";
import type { FrameMsg } from "../../contracts/track-messages.ts";
import { StaticSiteLookup } from "../../topology/site-geometry.ts";
import { StaticTopologyLookup } from "../../topology/topology-lookup.ts";
import { buildKinds, type KindDeps } from "../../actors/kinds.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import { simulateCameraFrames, type CameraSimOptions } from "../../firmware-sim/camera-run.ts";
import type { CameraTruth } from "../../firmware-sim/camera-truth.ts";
import { ActorPipeline } from "./actor-pipeline.ts";
import { evaluateScenario, type ScenarioFigures, type SystemOutputs } from "./scenario-evaluation.ts";

/** Epoch ms of a point's timestamp (node-influx accepts Date, ms numbers and ns digit strings). */
export function pointMs(p: IPoint): number {
  const t = p.timestamp;
  if (t instanceof Date) return t.getTime();
  if (typeof t === "string") return t.length > 13 ? Number(t.slice(0, t.length - 6)) : Number(t);
  if (typeof t === "number") return t > 1e15 ? Math.floor(t / 1e6) : t;
  throw new Error(`point of ${p.measurement} without a timestamp`);
}

/** The system's outputs read back from points in the shape of InfluxDB rows. */
export function outputsFromPoints(points: IPoint[], trackUpdates: TrackUpdate[]): SystemOutputs {
  const persons = points.filter((p) => p.measurement === M.person).map((p) => {
    const f = p.fields as Record<string, unknown>;
    return {
      person: String(f.person),
      tracklets: JSON.parse(String(f.tracklets)) as Array<[string, string, number, number]>,
      distance_m: Number(f.distance_m),
      upper: String(f.upper ?? ""),
      upper_conf: Number(f.upper_conf ?? 0),
    };
  });
  const zone = new Map<string, number>();
  for (const p of points) {
    if (p.measurement !== M.zoneOccupancy) continue;
    zone.set(`${p.tags!.space}|${Math.floor(pointMs(p) / 1000)}`, Number((p.fields as Record<string, unknown>).count));
  }
  return { trackUpdates, persons, zoneCount: (space, at) => zone.get(`${space}|${Math.floor(at / 1000)}`) ?? 0 };
}

export interface InProcessResult { figures: ScenarioFigures; truth: CameraTruth; pipeline: ActorPipeline; frames: number }

/** Tuning of the tracker and the linker beyond their defaults. */
export type TrackingTuning = Pick<NonNullable<KindDeps["tuning"]>, "camera" | "linker">;

/**
 * The acceptance scenario through the actors in one process (no services): the camera mall's
 * frames in publish order (duplicates, late batches and all) -> camera actors -> linker -> person
 * and zone actors; then the accuracy figures. Fast enough to tune the tracker and linker.
 */
export async function runInProcess(o: Omit<CameraSimOptions, "plan"> & { snapshotEvery?: number; title?: string; tuning?: TrackingTuning }): Promise<InProcessResult> {
  const plan = cameraMall("camera-mall");
  const doc = TopologyDoc.parse(toCameraTopologyDoc(plan, cameraMallSecrets(plan)));
  const sites = new StaticSiteLookup([{ site: plan.site, spaces: doc.spaces, devices: doc.devices }]);
  const kinds = buildKinds({ topology: new StaticTopologyLookup([]), sites, tuning: o.tuning });
  const pipeline = new ActorPipeline(kinds, { flushEvery: Number(process.env.FLUSH_EVERY ?? 200), ...(o.snapshotEvery ? { snapshotEvery: o.snapshotEvery } : {}) });
  const { frames, truth } = simulateCameraFrames({ ...o, plan });
  for (const f of frames) {
    const frame = DetectionFrame.parse(JSON.parse(f.payload));
    const msg: FrameMsg = { type: "frame", site: plan.site, camera: f.camera, seq: frame.seq, frameTs: frame.frame_ts, receivedAt: f.publishAt, detections: frame.detections };
    pipeline.setNow(f.publishAt);
    pipeline.deliver(ActorKinds.camera, `${plan.site}.${f.camera}`, msg, frameMsgId(f.camera, frame.seq, frame.frame_ts));
    await pipeline.drain();
  }
  // the end of the stream: time passes, buffers are released, silent persons end
  pipeline.setNow(truth.endTs + 600_000);
  await pipeline.drain();
  const updates = pipeline.events.filter((e) => e.subject.startsWith("evt.track.")).map((e) => TrackUpdate.parse(e.body));
  const figures = await evaluateScenario(truth, outputsFromPoints([...pipeline.points.values()], updates), o.title ?? "in-process run");
  return { figures, truth, pipeline, frames: frames.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const walkers = Number(process.argv[2] ?? 300), minutes = Number(process.argv[3] ?? 15), seed = Number(process.argv[4] ?? 1);
  const t0 = performance.now();
  const tuning = process.env.TUNING ? JSON.parse(process.env.TUNING) as TrackingTuning : undefined;
  const r = await runInProcess({ walkers, durationMs: minutes * 60_000, startTs: Date.UTC(2026, 10, 23, 10), seed, fps: 5, ...(tuning ? { tuning } : {}), ...(process.env.EMB ? { embeddingDims: Number(process.env.EMB) } : {}) });
  console.log(r.figures.report);
  console.log(`${r.frames} frame messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
