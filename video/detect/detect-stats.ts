/**
 * Counters and stage timings of the detection loop (video/detect/detect-loop.ts), kept as plain
 * sums so that a run's mean cost per frame of each stage is sum / frames:
 *
 *   decode   waiting for the next decoded frame from ffmpeg (per sampled frame; excludes the
 *            realtime pacing sleep)
 *   gate     the motion gate's pass over the frame (per sampled frame, 0 without a gate)
 *   pre      letterbox into the session's input tensor (per processed frame)
 *   infer    ONNX Runtime (per processed frame)
 *   post     output decoding + NMS + mapping back to source pixels (per processed frame)
 *   colours  garment colours of every detection, rounding, frame building (per processed frame)
 *
 * "Sampled" frames came out of the sampler; "processed" ones passed the motion gate, went through
 * the detector and were handed out for publishing; "held" ones the gate held back.
 */

export const STAGES = ["decode", "gate", "pre", "infer", "post", "colours"] as const;
export type Stage = (typeof STAGES)[number];

export class DetectStats {
  sampled = 0;
  processed = 0;
  held = 0;
  detections = 0;
  /** passes over a looped file, reconnections of a URL source (1 for a plain run) */
  passes = 0;
  /** ms summed per stage */
  readonly ms: Record<Stage, number> = { decode: 0, gate: 0, pre: 0, infer: 0, post: 0, colours: 0 };
  /** frame time (epoch ms) of the newest sampled frame, published or held; undefined before the first */
  lastFrameTs: number | undefined;
  readonly startedAt = performance.now();

  add(stage: Stage, ms: number): void {
    this.ms[stage] += ms;
  }

  /** mean ms per frame of a stage: per sampled frame for decode and gate, per processed frame otherwise */
  mean(stage: Stage): number {
    const n = stage === "decode" || stage === "gate" ? this.sampled : this.processed;
    return n > 0 ? this.ms[stage] / n : 0;
  }

  /** detector cost per processed frame (pre + infer + post) */
  get detectMean(): number {
    return this.mean("pre") + this.mean("infer") + this.mean("post");
  }

  /** seconds since the stats were created */
  get wallS(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** a flat summary for logs */
  summary(): Record<string, number> {
    const r2 = (v: number) => Math.round(v * 100) / 100;
    const out: Record<string, number> = {
      sampled: this.sampled, processed: this.processed, held: this.held, detections: this.detections, passes: this.passes,
      wall_s: r2(this.wallS),
    };
    for (const s of STAGES) out[`${s}_ms`] = r2(this.mean(s));
    return out;
  }
}
