/**
 * Reading a TensorFlow.js graph model from disk (model.json + weight shards) without tfjs:
 * the node list (op, inputs, attrs) and every weight decoded from the manifest into a typed
 * array (float32 or int32; float16 and affine uint8/uint16 quantised weights are dequantised to
 * float32). Also gives the raw artefacts tfjs-converter's `loadGraphModel` wants (`tfjsIOHandler`),
 * so the same files can be run by tfjs for checking.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** one attribute value as the JSON of a tfjs graph stores it (a TF AttrValue) */
export interface TfjsAttr {
  s?: string; // base64
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: Array<{ size?: string }>; unknownRank?: boolean };
  list?: { i?: string[]; f?: number[]; s?: string[]; type?: string[] };
  tensor?: unknown;
}

export interface TfjsNode {
  name: string;
  op: string;
  /** tensor refs: "node" (output 0), "node:1", or "^node" (control dependency) */
  input: string[];
  attr: Record<string, TfjsAttr>;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32" | "int32" | "bool" | "string" | "complex64";
  quantization?: { dtype: "float16" | "uint8" | "uint16"; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsModelJson {
  format?: string;
  modelTopology: { node: TfjsNode[]; versions?: unknown; library?: unknown };
  weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
  signature?: {
    inputs?: Record<string, { name: string; dtype: string; tensorShape?: { dim?: Array<{ size?: string }> } }>;
    outputs?: Record<string, { name: string; dtype: string; tensorShape?: { dim?: Array<{ size?: string }> } }>;
  };
}

/** a constant tensor: shape + data */
export interface ConstTensor {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TfjsGraph {
  json: TfjsModelJson;
  nodes: TfjsNode[];
  /** weight name -> decoded tensor */
  weights: Map<string, ConstTensor>;
  /** all shards concatenated, as tfjs reads them */
  weightData: ArrayBuffer;
  weightSpecs: WeightSpec[];
}

/** float16 bits -> float32 value */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const BYTES_PER_STORED: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint8: 1, uint16: 2, bool: 1 };

function decodeWeight(spec: WeightSpec, buf: Buffer, offset: number): { tensor: ConstTensor | null; bytes: number } {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const storedType = spec.quantization?.dtype ?? spec.dtype;
  const width = BYTES_PER_STORED[storedType];
  if (width === undefined) throw new Error(`weight ${spec.name}: unsupported stored dtype ${storedType}`);
  const bytes = count * width;
  if (spec.dtype === "int32") {
    const data = new Int32Array(count);
    for (let k = 0; k < count; k++) data[k] = buf.readInt32LE(offset + 4 * k);
    return { tensor: { dtype: "int32", shape: spec.shape, data }, bytes };
  }
  if (spec.dtype !== "float32") return { tensor: null, bytes };
  const data = new Float32Array(count);
  const q = spec.quantization;
  if (!q) for (let k = 0; k < count; k++) data[k] = buf.readFloatLE(offset + 4 * k);
  else if (q.dtype === "float16") for (let k = 0; k < count; k++) data[k] = halfToFloat(buf.readUInt16LE(offset + 2 * k));
  else {
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    for (let k = 0; k < count; k++) {
      const v = q.dtype === "uint8" ? buf.readUInt8(offset + k) : buf.readUInt16LE(offset + 2 * k);
      data[k] = v * scale + min;
    }
  }
  return { tensor: { dtype: "float32", shape: spec.shape, data }, bytes };
}

/** read model.json and its shards; decode every weight */
export function readTfjsGraph(jsonPath: string): TfjsGraph {
  const json = JSON.parse(readFileSync(jsonPath, "utf8")) as TfjsModelJson;
  const dir = dirname(jsonPath);
  const weights = new Map<string, ConstTensor>();
  const weightSpecs: WeightSpec[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    const buf = Buffer.concat(group.paths.map((p) => readFileSync(join(dir, p))));
    shards.push(buf);
    let offset = 0;
    for (const spec of group.weights) {
      const { tensor, bytes } = decodeWeight(spec, buf, offset);
      if (tensor) weights.set(spec.name, tensor);
      weightSpecs.push(spec);
      offset += bytes;
    }
    if (offset !== buf.length) throw new Error(`weights group ${group.paths.join(",")}: read ${offset} of ${buf.length} bytes`);
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return { json, nodes: json.modelTopology.node, weights, weightData, weightSpecs };
}

/** an IOHandler for tfjs-converter's loadGraphModel that serves the files already read */
export function tfjsIOHandler(graph: TfjsGraph) {
  return {
    load: async () => ({
      modelTopology: graph.json.modelTopology,
      weightSpecs: graph.weightSpecs,
      weightData: graph.weightData,
      format: graph.json.format,
      signature: graph.json.signature,
    }),
  };
}

/** split a tensor ref into node name and output index; null for control deps */
export function parseRef(ref: string): { node: string; output: number } | null {
  if (ref.startsWith("^")) return null;
  const m = /^(.*?)(?::(\d+))?$/.exec(ref);
  if (!m) throw new Error(`bad tensor ref ${ref}`);
  return { node: m[1] ?? ref, output: m[2] ? Number(m[2]) : 0 };
}

/** the canonical name of a tensor ref ("n:0" -> "n") */
export function refName(ref: string): string {
  const p = parseRef(ref);
  if (!p) return ref;
  return p.output === 0 ? p.node : `${p.node}:${p.output}`;
}

/** attribute helpers */
export function attrString(a: TfjsAttr | undefined): string | undefined {
  return a?.s === undefined ? undefined : Buffer.from(a.s, "base64").toString("utf8");
}
export function attrInts(a: TfjsAttr | undefined): number[] | undefined {
  return a?.list?.i?.map(Number);
}
