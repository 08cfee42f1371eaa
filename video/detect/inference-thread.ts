/**
 * The inference worker thread's body (started by video/detect/inference-worker.ts through its entry
 * inference-thread.js): one ONNX Runtime session of the detector's model, created with the
 * detector's session options, running the input tensors it is sent one at a time in the order they
 * arrive. Input and output buffers travel as transferables (moved, not copied); the input buffer
 * goes back with the outputs so the sender can fill it again.
 *
 * Messages in:  {type: "run", id, input: Float32Array}, {type: "close"}
 * Messages out: {type: "ready"} | {type: "failed", err} (session creation)
 *               {type: "done", id, input, outputs, inferMs} | {type: "error", id, input, err}
 *               {type: "closed"}
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { OnnxSession, type SessionOptions } from "../../models/onnx-session.ts";

export interface InferenceThreadData {
  file: string;
  inputShape: readonly number[];
  options: SessionOptions;
}

export type ToThread = { type: "run"; id: number; input: Float32Array } | { type: "close" };
export type FromThread =
  | { type: "ready" }
  | { type: "failed"; err: unknown }
  | { type: "done"; id: number; input: Float32Array; outputs: Record<string, Float32Array>; inferMs: number }
  | { type: "error"; id: number; input: Float32Array; err: unknown }
  | { type: "closed" };

const port = parentPort;
if (!port) throw new Error("inference-thread.ts runs as a worker thread only");
const data = workerData as InferenceThreadData;
const post = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let session: OnnxSession;
try {
  session = await OnnxSession.create(data.file, data.inputShape, data.options);
  post({ type: "ready" });
} catch (err) {
  post({ type: "failed", err });
  port.close();
  process.exit(1);
}

/** an output's floats in a buffer of their own (so it can be moved to the parent) */
function own(t: ort.Tensor): Float32Array {
  const d = t.data;
  if (!(d instanceof Float32Array)) throw new Error("output not float32");
  return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer ? d : d.slice();
}

async function runOne(m: { id: number; input: Float32Array }): Promise<void> {
  const transfer: ArrayBuffer[] = [m.input.buffer as ArrayBuffer];
  try {
    const t0 = performance.now();
    const r = await session.session.run({ [session.inputName]: new ort.Tensor("float32", m.input, data.inputShape as number[]) });
    const inferMs = performance.now() - t0;
    const outputs: Record<string, Float32Array> = {};
    for (const name of session.outputNames) {
      const t = r[name];
      if (!t) throw new Error(`output ${name} missing`);
      outputs[name] = own(t);
    }
    post({ type: "done", id: m.id, input: m.input, outputs, inferMs }, [...transfer, ...Object.values(outputs).map((o) => o.buffer as ArrayBuffer)]);
  } catch (err) {
    post({ type: "error", id: m.id, input: m.input, err }, transfer);
  }
}

// one run at a time, in arrival order
let chain = Promise.resolve();
port.on("message", (m: ToThread) => {
  if (m.type === "close") {
    chain = chain.then(async () => {
      await session.release();
      post({ type: "closed" });
      port.close();
    });
    return;
  }
  chain = chain.then(() => runOne(m));
});
