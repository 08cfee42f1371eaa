/**
 * The person detector: registry model + ONNX session + letterbox + decoder + NMS.
 * `detect(rgb, width, height)` returns detections in source pixels (only `person` unless other
 * classes are configured) and per-stage timings in ms: pre (letterbox into the session's input
 * buffer), infer (ONNX Runtime), decode (model outputs -> candidate boxes), post (NMS + mapping
 * back to source pixels).
 */
import { letterbox, type LetterboxTransform } from "./letterbox.ts";
import { nms, type Detection } from "./nms.ts";
import { DEFAULT_SCORE } from "./detector-defaults.ts";
import { OnnxSession, type SessionOptions } from "./onnx-session.ts";
import { detectorModelFromEnv, getModel, type ModelSpec } from "./registry.ts";

export interface DetectorOptions extends SessionOptions {
  model?: string;
  /** class names to keep (default ["person"]); empty array = all classes */
  classes?: readonly string[];
  /** default DEFAULT_SCORE */
  scoreThreshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
}

export interface StageTimings {
  pre: number;
  infer: number;
  decode: number;
  post: number;
}

export interface DetectionResult {
  detections: Detection[];
  timings: StageTimings;
  transform: LetterboxTransform;
}

export class Detector {
  private readonly tapCache = {};

  private constructor(
    readonly model: ModelSpec,
    readonly session: OnnxSession,
    private readonly classIds: readonly number[] | undefined,
    private readonly opts: Required<Pick<DetectorOptions, "scoreThreshold" | "iouThreshold" | "maxDetections">>,
  ) {}

  static async create(opts: DetectorOptions = {}): Promise<Detector> {
    const model = getModel(opts.model ?? detectorModelFromEnv());
    const names = opts.classes ?? ["person"];
    const classIds =
      names.length === 0
        ? undefined
        : names.map((n) => {
            const k = model.classes.indexOf(n);
            if (k < 0) throw new Error(`${model.name} has no class ${n}`);
            return k;
          });
    const session = await OnnxSession.create(model.file(), model.inputShape, opts);
    return new Detector(model, session, classIds, {
      scoreThreshold: opts.scoreThreshold ?? DEFAULT_SCORE,
      iouThreshold: opts.iouThreshold ?? 0.5,
      maxDetections: opts.maxDetections ?? 100,
    });
  }

  className(cls: number): string {
    return this.model.classes[cls] ?? String(cls);
  }

  async detect(rgb: Uint8Array, width: number, height: number): Promise<DetectionResult> {
    const t0 = performance.now();
    const transform = letterbox(rgb, width, height, this.model.preprocess, this.session.input, this.tapCache);
    const t1 = performance.now();
    const outputs = await this.session.run();
    const t2 = performance.now();
    const candidates = this.model.decode(outputs, {
      scoreThreshold: this.opts.scoreThreshold,
      ...(this.classIds ? { classes: this.classIds } : {}),
    });
    const t3 = performance.now();
    const kept = nms(candidates, this.opts);
    const { scale, padX, padY } = transform;
    const clampX = (v: number) => Math.min(width, Math.max(0, v));
    const clampY = (v: number) => Math.min(height, Math.max(0, v));
    const detections = kept.map((d) => ({
      ...d,
      box: [
        clampX((d.box[0] - padX) / scale),
        clampY((d.box[1] - padY) / scale),
        clampX((d.box[2] - padX) / scale),
        clampY((d.box[3] - padY) / scale),
      ] as Detection["box"],
    }));
    const t4 = performance.now();
    return { detections, transform, timings: { pre: t1 - t0, infer: t2 - t1, decode: t3 - t2, post: t4 - t3 } };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
