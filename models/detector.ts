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
    /** what the session was created with (a second session of the same model, e.g. in a worker, uses them too) */
    readonly sessionOptions: SessionOptions,
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
    const sessionOptions: SessionOptions = {
      ...(opts.intraOpNumThreads !== undefined ? { intraOpNumThreads: opts.intraOpNumThreads } : {}),
      ...(opts.interOpNumThreads !== undefined ? { interOpNumThreads: opts.interOpNumThreads } : {}),
      ...(opts.executionMode !== undefined ? { executionMode: opts.executionMode } : {}),
      ...(opts.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: opts.graphOptimizationLevel } : {}),
      ...(opts.warmupRuns !== undefined ? { warmupRuns: opts.warmupRuns } : {}),
    };
    return new Detector(model, session, sessionOptions, classIds, {
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
    const transform = this.preprocess(rgb, width, height);
    const t1 = performance.now();
    const outputs = await this.session.run();
    const t2 = performance.now();
    const { detections, decode, post } = this.postprocess(outputs, transform, width, height);
    return { detections, transform, timings: { pre: t1 - t0, infer: t2 - t1, decode, post } };
  }

  /**
   * Pre-processing alone: letterbox the frame into `into` (default: the session's own input
   * buffer; a caller running the model elsewhere, e.g. in a worker thread, passes its own buffer
   * of `inputSize` floats).
   */
  preprocess(rgb: Uint8Array, width: number, height: number, into: Float32Array = this.session.input): LetterboxTransform {
    return letterbox(rgb, width, height, this.model.preprocess, into, this.tapCache);
  }

  /** floats in the model's input tensor */
  get inputSize(): number {
    return this.session.input.length;
  }

  /**
   * Post-processing alone: the model's outputs for a frame pre-processed with `transform` ->
   * detections in source pixels, with the ms of output decoding and of NMS + mapping.
   */
  postprocess(outputs: Record<string, Float32Array>, transform: LetterboxTransform, width: number, height: number): { detections: Detection[]; decode: number; post: number } {
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
    return { detections, decode: t3 - t2, post: t4 - t3 };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
