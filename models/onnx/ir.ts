/**
 * The small in-memory ONNX graph the converter builds before it is written out: nodes with
 * tagged attributes, constant tensors (initialisers), graph inputs/outputs with static shapes,
 * and a builder that hands out unique tensor names.
 */

export type OnnxDType = "float32" | "int32" | "int64";

export interface OnnxTensor {
  dtype: OnnxDType;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

export type OnnxAttr = { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] };

export interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
}

export interface OnnxValueInfo {
  name: string;
  dtype: OnnxDType;
  shape: number[];
}

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers = new Map<string, OnnxTensor>();
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  private readonly used = new Set<string>();

  /** a tensor name not used so far, derived from `base` */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): string {
    this.used.add(name);
    return name;
  }

  addNode(op: string, inputs: string[], outputs: string[], attrs: Record<string, OnnxAttr> = {}, name?: string): OnnxNode {
    for (const o of outputs) this.used.add(o);
    const node: OnnxNode = { op, name: name ?? this.unique(`${outputs[0] ?? op}/${op}`), inputs, outputs, attrs };
    this.nodes.push(node);
    return node;
  }

  /** add an initialiser; returns its (possibly uniquified) name */
  addConst(base: string, t: OnnxTensor): string {
    const name = this.initializers.has(base) || this.used.has(base) ? this.unique(base) : this.reserve(base);
    this.initializers.set(name, t);
    return name;
  }

  int64(base: string, values: number[], shape: number[] = [values.length]): string {
    return this.addConst(base, { dtype: "int64", shape, data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  float(base: string, values: number[], shape: number[] = [values.length]): string {
    return this.addConst(base, { dtype: "float32", shape, data: Float32Array.from(values) });
  }
}
