/**
 * The tfjs graph -> ONNX graph walk: topological order from the signature outputs, constant
 * folding (a node whose inputs are all constant is evaluated here, e.g. the SparseToDense/AddV2
 * chains that compute NanoDet's reshape targets), op mapping (ops.ts), then two clean-ups on the
 * ONNX graph: conv bias folding (Conv -> Transpose -> Add(const [C]) becomes Conv with B) and
 * Transpose merging (back-to-back Transposes are composed; identities removed), and dead-node removal.
 */
import { parseRef, refName, type ConstTensor, type TfjsGraph, type TfjsNode } from "../tfjs-graph.ts";
import { OnnxGraphBuilder, type OnnxNode } from "./ir.ts";
import { OP_MAPPERS, type MapContext } from "./ops.ts";

export interface ConvertResult {
  graph: OnnxGraphBuilder;
  /** tfjs signature output name ("Identity:0") -> ONNX output name */
  outputNames: Map<string, string>;
  inputName: string;
  inputShape: number[];
  folded: number;
}

// ---------- constant folding ----------

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function broadcastShape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const da = a[a.length - n + k] ?? 1;
    const db = b[b.length - n + k] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast ${a} with ${b}`);
    out.push(Math.max(da, db));
  }
  return out;
}

/** index into a broadcast operand for flat output index i */
function broadcastIndex(i: number, outShape: number[], shape: number[]): number {
  let idx = 0;
  let stride = 1;
  let rest = i;
  const off = outShape.length - shape.length;
  const coords: number[] = new Array(outShape.length);
  for (let k = outShape.length - 1; k >= 0; k--) {
    const d = outShape[k] ?? 1;
    coords[k] = rest % d;
    rest = Math.floor(rest / d);
  }
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k] ?? 1;
    idx += (d === 1 ? 0 : (coords[k + off] ?? 0)) * stride;
    stride *= d;
  }
  return idx;
}

function elementwise(a: ConstTensor, b: ConstTensor, f: (x: number, y: number) => number): ConstTensor {
  const shape = broadcastShape(a.shape, b.shape);
  const n = size(shape);
  const data = a.dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = f(a.data[broadcastIndex(i, shape, a.shape)] ?? 0, b.data[broadcastIndex(i, shape, b.shape)] ?? 0);
  return { dtype: a.dtype, shape, data };
}

function sparseToDense(idx: ConstTensor, outShape: ConstTensor, values: ConstTensor, dflt: ConstTensor): ConstTensor {
  const shape = [...outShape.data];
  const n = size(shape);
  const data = values.dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
  data.fill(dflt.data[0] ?? 0);
  const count = idx.shape[0] ?? 0;
  const rank = idx.shape.length > 1 ? (idx.shape[1] ?? 1) : 1;
  for (let k = 0; k < count; k++) {
    let flat = 0;
    for (let r = 0; r < rank; r++) flat = flat * (shape[r] ?? 1) + (idx.data[k * rank + r] ?? 0);
    data[flat] = (values.data.length === 1 ? values.data[0] : values.data[k]) ?? 0;
  }
  return { dtype: values.dtype, shape, data };
}

/** evaluate a node with all-constant inputs; undefined if this op cannot be folded here */
function fold(op: string, ins: ConstTensor[]): ConstTensor[] | undefined {
  const [a, b, c, d] = ins;
  switch (op) {
    case "Identity":
      return a ? [a] : undefined;
    case "Add":
    case "AddV2":
      return a && b ? [elementwise(a, b, (x, y) => x + y)] : undefined;
    case "Sub":
      return a && b ? [elementwise(a, b, (x, y) => x - y)] : undefined;
    case "Mul":
      return a && b ? [elementwise(a, b, (x, y) => x * y)] : undefined;
    case "SparseToDense":
      return a && b && c && d ? [sparseToDense(a, b, c, d)] : undefined;
    case "Reshape":
      return a && b ? [{ ...a, shape: [...b.data] }] : undefined;
    default:
      return undefined;
  }
}

// ---------- graph walk ----------

function topoOrder(nodes: Map<string, TfjsNode>, outputs: string[]): TfjsNode[] {
  const order: TfjsNode[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 2) return;
    if (s === 1) throw new Error(`cycle at ${name}`);
    const node = nodes.get(name);
    if (!node) throw new Error(`unknown node ${name}`);
    state.set(name, 1);
    for (const ref of node.input ?? []) {
      const p = parseRef(ref);
      if (p) visit(p.node);
    }
    state.set(name, 2);
    order.push(node);
  };
  for (const o of outputs) visit(o);
  return order;
}

/** convert a tfjs graph into an ONNX graph (not yet serialised) */
export function convertTfjsGraph(tf: TfjsGraph): ConvertResult {
  const g = new OnnxGraphBuilder();
  const byName = new Map(tf.nodes.map((n) => [n.name, n]));
  const sigOut = Object.values(tf.json.signature?.outputs ?? {});
  if (sigOut.length === 0) throw new Error("graph has no signature outputs");
  const order = topoOrder(
    byName,
    sigOut.map((o) => parseRef(o.name)?.node ?? o.name),
  );

  const consts = new Map<string, ConstTensor>(); // tf tensor name -> value
  const materialised = new Map<string, string>(); // tf tensor name -> initialiser name
  let inputName = "";
  let inputShape: number[] = [];
  let folded = 0;

  for (const node of order) {
    const dataInputs = (node.input ?? []).filter((r) => !r.startsWith("^")).map(refName);
    if (node.op === "Const") {
      const w = tf.weights.get(node.name);
      if (!w) throw new Error(`Const ${node.name} has no weight`);
      consts.set(node.name, w);
      continue;
    }
    if (node.op === "Placeholder") {
      inputName = g.reserve(node.name);
      inputShape = (node.attr.shape?.shape?.dim ?? []).map((d) => Number(d.size ?? -1));
      g.inputs.push({ name: inputName, dtype: "float32", shape: inputShape });
      continue;
    }
    const constIns = dataInputs.map((r) => consts.get(r));
    if (constIns.every((c) => c !== undefined)) {
      const res = fold(node.op, constIns as ConstTensor[]);
      if (res) {
        res.forEach((t, k) => consts.set(k === 0 ? node.name : `${node.name}:${k}`, t));
        folded++;
        continue;
      }
    }
    const mapper = OP_MAPPERS[node.op];
    if (!mapper) throw new Error(`op ${node.op} (${node.name}) has no ONNX mapping`);
    const ctx: MapContext = {
      g,
      node,
      inputCount: dataInputs.length,
      input: (k) => {
        const ref = dataInputs[k];
        if (ref === undefined) throw new Error(`${node.name}: no input ${k}`);
        const c = consts.get(ref);
        if (!c) return ref;
        let name = materialised.get(ref);
        if (!name) {
          name = g.addConst(ref, c);
          materialised.set(ref, name);
        }
        return name;
      },
      constant: (k) => {
        const ref = dataInputs[k];
        return ref === undefined ? undefined : consts.get(ref);
      },
      output: (k = 0) => (k === 0 ? node.name : `${node.name}:${k}`),
    };
    mapper(ctx);
  }

  const outputNames = new Map<string, string>();
  for (const o of sigOut) {
    const tensor = refName(o.name);
    const shape = (o.tensorShape?.dim ?? []).map((d) => Number(d.size ?? -1));
    g.outputs.push({ name: tensor, dtype: "float32", shape });
    outputNames.set(o.name, tensor);
  }
  optimise(g);
  return { graph: g, outputNames, inputName, inputShape, folded };
}

// ---------- clean-ups on the ONNX graph ----------

function consumers(g: OnnxGraphBuilder): Map<string, OnnxNode[]> {
  const m = new Map<string, OnnxNode[]>();
  for (const n of g.nodes)
    for (const i of n.inputs) {
      const l = m.get(i);
      if (l) l.push(n);
      else m.set(i, [n]);
    }
  return m;
}

function producers(g: OnnxGraphBuilder): Map<string, OnnxNode> {
  const m = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

function permOf(n: OnnxNode): number[] {
  const a = n.attrs.perm;
  return a && "ints" in a ? a.ints : [];
}

/** replace every use of tensor `from` by `to` (graph outputs keep their name through Identity) */
function renameUses(g: OnnxGraphBuilder, from: string, to: string): void {
  for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
}

/** Conv -> Transpose -> Add(const 1-D [C] on the last axis) ==> Conv(B) -> Transpose */
function foldConvBias(g: OnnxGraphBuilder): number {
  let count = 0;
  const cons = consumers(g);
  const prod = producers(g);
  for (const add of g.nodes) {
    if (add.op !== "Add") continue;
    const [x, b] = add.inputs;
    if (x === undefined || b === undefined) continue;
    const bias = g.initializers.get(b);
    const t = prod.get(x);
    if (!bias || bias.dtype !== "float32" || bias.shape.length !== 1 || !t || t.op !== "Transpose") continue;
    if (permOf(t).join() !== "0,2,3,1" || (cons.get(x)?.length ?? 0) !== 1) continue;
    const conv = prod.get(t.inputs[0] ?? "");
    if (!conv || conv.op !== "Conv" || conv.inputs.length !== 2 || (cons.get(conv.outputs[0] ?? "")?.length ?? 0) !== 1) continue;
    if ((cons.get(b)?.length ?? 0) === 1) g.initializers.delete(b);
    const bName = g.addConst(`${conv.name}/B`, bias);
    conv.inputs.push(bName);
    // the Add now passes the transpose output through
    renameUses(g, add.outputs[0] ?? "", x);
    if (g.outputs.some((o) => o.name === add.outputs[0])) {
      add.op = "Identity";
      add.inputs = [x];
    } else add.op = "__dead";
    count++;
  }
  g.nodes.splice(0, g.nodes.length, ...g.nodes.filter((n) => n.op !== "__dead"));
  return count;
}

/** Transpose(p) -> Transpose(q) ==> Transpose(p∘q), removed when it is the identity */
function mergeTransposes(g: OnnxGraphBuilder): number {
  let count = 0;
  const prod = producers(g);
  const isOutput = new Set(g.outputs.map((o) => o.name));
  for (const n of g.nodes) {
    if (n.op !== "Transpose") continue;
    const first = prod.get(n.inputs[0] ?? "");
    if (!first || first.op !== "Transpose") continue;
    const p = permOf(first);
    const q = permOf(n);
    const composed = q.map((k) => p[k] ?? k);
    n.inputs = [first.inputs[0] ?? ""];
    n.attrs = { perm: { ints: composed } };
    if (composed.every((v, k) => v === k)) {
      if (isOutput.has(n.outputs[0] ?? "")) {
        n.op = "Identity";
        n.attrs = {};
      } else {
        renameUses(g, n.outputs[0] ?? "", n.inputs[0] ?? "");
        n.op = "__dead";
      }
    }
    count++;
  }
  g.nodes.splice(0, g.nodes.length, ...g.nodes.filter((n) => n.op !== "__dead"));
  return count;
}

function removeDead(g: OnnxGraphBuilder): void {
  const needed = new Set(g.outputs.map((o) => o.name));
  const kept: OnnxNode[] = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (!n || !n.outputs.some((o) => needed.has(o))) continue;
    kept.push(n);
    for (const i of n.inputs) needed.add(i);
  }
  g.nodes.splice(0, g.nodes.length, ...kept.reverse());
  for (const name of [...g.initializers.keys()]) if (!needed.has(name)) g.initializers.delete(name);
}

function optimise(g: OnnxGraphBuilder): void {
  foldConvBias(g);
  removeDead(g);
  while (mergeTransposes(g) > 0) removeDead(g);
  removeDead(g);
}

/** op type -> count, for reports */
export function opCounts(g: OnnxGraphBuilder): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of g.nodes) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
}
