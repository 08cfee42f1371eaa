/**
 * ONNX Runtime session management for single-image (batch of one) float32 models: the session is
 * created with explicit thread settings, warmed up, and owns ONE input buffer (and the ort.Tensor
 * wrapping it) that callers fill in place each frame, so a frame costs no input allocation or copy.
 */
import * as ort from "onnxruntime-node";

export interface SessionOptions {
  /** threads inside one op (default 1) */
  intraOpNumThreads?: number;
  /** threads across independent ops, parallel mode only (default 1) */
  interOpNumThreads?: number;
  executionMode?: "sequential" | "parallel";
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** warm-up runs at creation (default 1) */
  warmupRuns?: number;
}

export class OnnxSession {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly inputShape: readonly number[],
    /** the input buffer: fill it, then call run() */
    readonly input: Float32Array,
    private readonly inputTensor: ort.Tensor,
    readonly outputNames: readonly string[],
  ) {}

  static async create(file: string, inputShape: readonly number[], opts: SessionOptions = {}): Promise<OnnxSession> {
    const session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: opts.intraOpNumThreads ?? 1,
      interOpNumThreads: opts.interOpNumThreads ?? 1,
      executionMode: opts.executionMode ?? "sequential",
      graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
      executionProviders: ["cpu"],
    });
    const inputName = session.inputNames[0];
    if (!inputName || session.inputNames.length !== 1) throw new Error(`${file}: expected one input, got ${session.inputNames.join(",")}`);
    const input = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
    const tensor = new ort.Tensor("float32", input, inputShape as number[]);
    const s = new OnnxSession(session, inputName, inputShape, input, tensor, session.outputNames);
    for (let k = 0; k < (opts.warmupRuns ?? 1); k++) await s.run();
    return s;
  }

  /** run on the current content of `input`; returns output name -> data */
  async run(): Promise<Record<string, Float32Array>> {
    const res = await this.session.run({ [this.inputName]: this.inputTensor });
    const out: Record<string, Float32Array> = {};
    for (const name of this.outputNames) {
      const t = res[name];
      if (!t || !(t.data instanceof Float32Array)) throw new Error(`output ${name} missing or not float32`);
      out[name] = t.data;
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
