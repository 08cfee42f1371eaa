/**
 * Writing the in-memory ONNX graph (ir.ts) as an ONNX ModelProto with the protobufjs types of
 * `onnx-proto`: initialisers as little-endian raw data, inputs/outputs with static shapes.
 */
import onnxProto from "onnx-proto";
import type { OnnxAttr, OnnxDType, OnnxGraphBuilder, OnnxTensor, OnnxValueInfo } from "./ir.ts";

const { onnx } = onnxProto;

/** default opset of the converter (Resize with `axes` needs 18) */
export const ONNX_OPSET = 18;
/** IR version that goes with opset 18 */
const IR_VERSION = 8;

const DTYPE: Record<OnnxDType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

function tensorProto(name: string, t: OnnxTensor): onnxProto.onnx.ITensorProto {
  const d = t.data;
  return {
    name,
    dims: t.shape,
    dataType: DTYPE[t.dtype],
    rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
  };
}

function attrProto(name: string, a: OnnxAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("i" in a) return { name, type: T.INT, i: a.i };
  if ("f" in a) return { name, type: T.FLOAT, f: a.f };
  if ("s" in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  if ("ints" in a) return { name, type: T.INTS, ints: a.ints };
  return { name, type: T.FLOATS, floats: a.floats };
}

function valueInfo(v: OnnxValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: { tensorType: { elemType: DTYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
  };
}

/** serialise the graph to the bytes of an .onnx file */
export function encodeModel(g: OnnxGraphBuilder, graphName: string, docString = ""): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: "footfall models/onnx",
    producerVersion: "0.1.0",
    docString,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    graph: {
      name: graphName,
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, a]) => attrProto(k, a)),
      })),
      initializer: [...g.initializers].map(([name, t]) => tensorProto(name, t)),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}
