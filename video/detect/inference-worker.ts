/**
 * ONNX inference in a worker thread (node:worker_threads). onnxruntime-node's `session.run` is
 * async only in name: it runs the whole model on the calling JS thread (inside a setImmediate), so
 * nothing else of the detection loop (reading decoded frames, letterboxing, decoding outputs, NMS,
 * garment colours, publishing) can run while the model does. With the session in a worker thread,
 * the loop pre-processes the next frame and post-processes the previous one while the model runs
 * (video/detect/detect-loop.ts).
 *
 * The worker (video/detect/inference-thread.ts) holds its own session of the detector's model,
 * created with the detector's session options (same thread counts), and runs the inputs it is
 * sent strictly one at a time, in order. `run(input)` moves the input buffer to the worker (a
 * transfer, no copy; the buffer is unusable until the result hands it back) and resolves with the
 * outputs (moved back too) and the ms the model took. A failed run rejects its own promise; a
 * worker that dies rejects every pending run and every later one.
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { Detector } from "../../models/detector.ts";
import type { FromThread, InferenceThreadData, ToThread } from "./inference-thread.ts";

export interface InferenceResult {
  /** the input buffer, back from the worker (fill it again for a later run) */
  input: Float32Array;
  outputs: Record<string, Float32Array>;
  /** ms of session.run in the worker */
  inferMs: number;
}

interface Pending {
  resolve: (r: InferenceResult) => void;
  reject: (e: Error) => void;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export class InferenceWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  private resolveClosed: (() => void) | undefined;

  private constructor(private readonly worker: Worker, private readonly log?: Logger) {
    worker.on("message", (m: FromThread) => this.onMessage(m));
    worker.on("error", (err) => this.fail(asError(err)));
    worker.on("exit", (code) => {
      this.closed = true;
      this.fail(new Error(this.closing ? "inference worker closed" : `inference worker exited (code ${code})`));
      this.resolveClosed?.();
    });
  }

  /** a worker with a session of `detector`'s model and session options, ready to run */
  static async start(detector: Detector, log?: Logger): Promise<InferenceWorker> {
    const data: InferenceThreadData = { file: detector.model.file(), inputShape: [...detector.model.inputShape], options: { ...detector.sessionOptions } };
    const worker = new Worker(new URL("./inference-thread.js", import.meta.url), { workerData: data });
    const iw = new InferenceWorker(worker, log);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        if (m.type === "ready") done(), resolve();
        else if (m.type === "failed") done(), reject(asError(m.err));
      };
      const onExit = (code: number) => { done(); reject(new Error(`inference worker exited while starting (code ${code})`)); };
      const onError = (err: unknown) => { done(); reject(asError(err)); };
      const done = () => { worker.off("message", onMessage); worker.off("exit", onExit); worker.off("error", onError); };
      worker.on("message", onMessage);
      worker.on("exit", onExit);
      worker.on("error", onError);
    }).catch(async (e: unknown) => {
      await worker.terminate();
      throw e;
    });
    return iw;
  }

  /** runs sent and not yet answered */
  get inFlight(): number {
    return this.pending.size;
  }

  /** runs the model on `input` (moved to the worker until the result hands it back) */
  run(input: Float32Array): Promise<InferenceResult> {
    if (this.closing) return Promise.reject(new Error("inference worker closed"));
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<InferenceResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToThread = { type: "run", id, input };
      this.worker.postMessage(msg, [input.buffer as ArrayBuffer]);
    });
  }

  private onMessage(m: FromThread): void {
    if (m.type !== "done" && m.type !== "error") {
      if (m.type === "closed") this.resolveClosed?.();
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === "done") p.resolve({ input: m.input, outputs: m.outputs, inferMs: m.inferMs });
    else p.reject(asError(m.err));
  }

  private fail(err: Error): void {
    if (!this.failure && !this.closing) this.log?.error({ err }, "inference worker failed");
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /**
   * Stops the worker: runs already sent finish first (their promises resolve), then the session
   * is released and the thread ends. `graceMs` bounds the wait; after it the thread is terminated.
   */
  close(graceMs = 5000): Promise<void> {
    this.closing ??= (async () => {
      if (!this.closed) {
        const ended = new Promise<void>((r) => { this.resolveClosed = r; });
        this.worker.postMessage({ type: "close" } satisfies ToThread);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((r) => { timer = setTimeout(r, graceMs); });
        await Promise.race([ended, timeout]);
        clearTimeout(timer);
      }
      await this.worker.terminate();
      this.fail(new Error("inference worker closed"));
    })();
    return this.closing;
  }
}
