/**
 * Op mappings tfjs (TensorFlow) -> ONNX, one function per TF op. Layout choice: the converted
 * graph keeps TensorFlow's tensor layouts exactly (NHWC where TF had NHWC), so every TF op maps
 * literally; the NHWC spatial ops (Conv2D, MaxPool, ResizeBilinear) become
 * Transpose(NHWC->NCHW) -> ONNX op -> Transpose(NCHW->NHWC). The graph walk (convert.ts) then
 * folds conv biases and cancels the back-to-back Transpose pairs this creates, so a graph that was
 * NCHW at its edges (like NanoDet, converted to tfjs from ONNX) ends up NCHW throughout.
 */
import { attrInts, attrString, type ConstTensor, type TfjsNode } from "../tfjs-graph.ts";
import type { OnnxGraphBuilder } from "./ir.ts";

export interface MapContext {
  g: OnnxGraphBuilder;
  node: TfjsNode;
  /** number of (data) inputs */
  readonly inputCount: number;
  /** ONNX tensor name of input k (constants become initialisers) */
  input(k: number): string;
  /** constant value of input k, if it is constant */
  constant(k: number): ConstTensor | undefined;
  /** ONNX tensor name of output k (k = 0 -> the node's name, else "name:k") */
  output(k?: number): string;
}

export type OpMapper = (ctx: MapContext) => void;

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

function requireConst(ctx: MapContext, k: number): ConstTensor {
  const c = ctx.constant(k);
  if (!c) throw new Error(`${ctx.node.op} ${ctx.node.name}: input ${k} must be constant`);
  return c;
}

function isNhwc(node: TfjsNode): boolean {
  return (attrString(node.attr.data_format) ?? "NHWC") === "NHWC";
}

/** [1, a, b, 1] (NHWC) or [1, 1, a, b] (NCHW) -> [a, b] */
function spatial(v: number[] | undefined, nhwc: boolean, dflt: number): number[] {
  if (!v || v.length === 0) return [dflt, dflt];
  if (v.length === 2) return v;
  return nhwc ? [v[1] ?? dflt, v[2] ?? dflt] : [v[2] ?? dflt, v[3] ?? dflt];
}

/** ONNX pads/auto_pad attributes from TF padding attrs */
function padAttrs(node: TfjsNode, nhwc: boolean): Record<string, { s: string } | { ints: number[] }> {
  const padding = attrString(node.attr.padding) ?? "VALID";
  if (padding === "VALID") return { pads: { ints: [0, 0, 0, 0] } };
  if (padding === "SAME") return { auto_pad: { s: "SAME_UPPER" } };
  if (padding === "EXPLICIT") {
    const e = attrInts(node.attr.explicit_paddings) ?? [];
    const [h0, h1, w0, w1] = nhwc ? [e[2], e[3], e[4], e[5]] : [e[4], e[5], e[6], e[7]];
    return { pads: { ints: [h0 ?? 0, w0 ?? 0, h1 ?? 0, w1 ?? 0] } };
  }
  throw new Error(`${node.name}: padding ${padding} not supported`);
}

/** run `inner` on an NCHW view of input 0 when the TF op is NHWC; returns nothing */
function withNchw(ctx: MapContext, inner: (nchwIn: string, nchwOut: string) => void): void {
  const nhwc = isNhwc(ctx.node);
  if (!nhwc) {
    inner(ctx.input(0), ctx.output());
    return;
  }
  const tin = ctx.g.unique(`${ctx.node.name}/to_nchw`);
  ctx.g.addNode("Transpose", [ctx.input(0)], [tin], { perm: { ints: NHWC_TO_NCHW } });
  const tout = ctx.g.unique(`${ctx.node.name}/nchw`);
  inner(tin, tout);
  ctx.g.addNode("Transpose", [tout], [ctx.output()], { perm: { ints: NCHW_TO_NHWC } });
}

/** HWIO filter -> OIHW */
function filterToOihw(w: ConstTensor): ConstTensor {
  const [kh = 1, kw = 1, ci = 1, co = 1] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = w.data[((y * kw + x) * ci + i) * co + o] ?? 0;
  return { dtype: "float32", shape: [co, ci, kh, kw], data: out };
}

function conv2d(ctx: MapContext): void {
  const nhwc = isNhwc(ctx.node);
  const w = filterToOihw(requireConst(ctx, 1));
  const wName = ctx.g.addConst(`${ctx.node.name}/W_oihw`, w);
  const attrs = {
    kernel_shape: { ints: [w.shape[2] ?? 1, w.shape[3] ?? 1] },
    strides: { ints: spatial(attrInts(ctx.node.attr.strides), nhwc, 1) },
    dilations: { ints: spatial(attrInts(ctx.node.attr.dilations), nhwc, 1) },
    ...padAttrs(ctx.node, nhwc),
  };
  withNchw(ctx, (x, y) => ctx.g.addNode("Conv", [x, wName], [y], attrs));
}

function pool(onnxOp: string): OpMapper {
  return (ctx) => {
    const nhwc = isNhwc(ctx.node);
    const attrs = {
      kernel_shape: { ints: spatial(attrInts(ctx.node.attr.ksize), nhwc, 1) },
      strides: { ints: spatial(attrInts(ctx.node.attr.strides), nhwc, 1) },
      ...padAttrs(ctx.node, nhwc),
    };
    withNchw(ctx, (x, y) => ctx.g.addNode(onnxOp, [x], [y], attrs));
  };
}

function pad(ctx: MapContext): void {
  const p = requireConst(ctx, 1);
  const rank = p.shape[0] ?? 0;
  const begins: number[] = [];
  const ends: number[] = [];
  for (let r = 0; r < rank; r++) {
    begins.push(p.data[2 * r] ?? 0);
    ends.push(p.data[2 * r + 1] ?? 0);
  }
  const pads = ctx.g.int64(`${ctx.node.name}/pads`, [...begins, ...ends]);
  const inputs = [ctx.input(0), pads];
  if (ctx.inputCount > 2) {
    const cv = requireConst(ctx, 2);
    inputs.push(ctx.g.float(`${ctx.node.name}/value`, [cv.data[0] ?? 0], []));
  }
  ctx.g.addNode("Pad", inputs, [ctx.output()], { mode: { s: "constant" } });
}

function resizeBilinear(ctx: MapContext): void {
  const size = requireConst(ctx, 1);
  const align = ctx.node.attr.align_corners?.b === true;
  const half = ctx.node.attr.half_pixel_centers?.b === true;
  const mode = align ? "align_corners" : half ? "half_pixel" : "asymmetric";
  const sizes = ctx.g.int64(`${ctx.node.name}/sizes`, [size.data[0] ?? 0, size.data[1] ?? 0]);
  const tin = ctx.g.unique(`${ctx.node.name}/to_nchw`);
  ctx.g.addNode("Transpose", [ctx.input(0)], [tin], { perm: { ints: NHWC_TO_NCHW } });
  const tout = ctx.g.unique(`${ctx.node.name}/nchw`);
  ctx.g.addNode("Resize", [tin, "", "", sizes], [tout], {
    mode: { s: "linear" },
    coordinate_transformation_mode: { s: mode },
    axes: { ints: [2, 3] },
  });
  ctx.g.addNode("Transpose", [tout], [ctx.output()], { perm: { ints: NCHW_TO_NHWC } });
}

function concat(ctx: MapContext): void {
  const n = ctx.inputCount - 1;
  const axis = requireConst(ctx, n).data[0] ?? 0;
  const inputs = Array.from({ length: n }, (_, k) => ctx.input(k));
  ctx.g.addNode("Concat", inputs, [ctx.output()], { axis: { i: axis } });
}

function splitV(ctx: MapContext): void {
  const sizes = [...requireConst(ctx, 1).data];
  const axis = requireConst(ctx, 2).data[0] ?? 0;
  if (sizes.some((s) => s < 0)) throw new Error(`${ctx.node.name}: SplitV with -1 size not supported`);
  const split = ctx.g.int64(`${ctx.node.name}/split`, sizes);
  const outputs = sizes.map((_, k) => ctx.output(k));
  ctx.g.addNode("Split", [ctx.input(0), split], outputs, { axis: { i: axis } });
}

function transpose(ctx: MapContext): void {
  const perm = [...requireConst(ctx, 1).data];
  ctx.g.addNode("Transpose", [ctx.input(0)], [ctx.output()], { perm: { ints: perm } });
}

function reshape(ctx: MapContext): void {
  const shape = ctx.g.int64(`${ctx.node.name}/shape`, [...requireConst(ctx, 1).data]);
  ctx.g.addNode("Reshape", [ctx.input(0), shape], [ctx.output()]);
}

function unary(onnxOp: string, attrs?: (n: TfjsNode) => Record<string, { f: number }>): OpMapper {
  return (ctx) => ctx.g.addNode(onnxOp, [ctx.input(0)], [ctx.output()], attrs ? attrs(ctx.node) : {});
}

function binary(onnxOp: string): OpMapper {
  return (ctx) => ctx.g.addNode(onnxOp, [ctx.input(0), ctx.input(1)], [ctx.output()]);
}

/** TF op -> mapping */
export const OP_MAPPERS: Record<string, OpMapper> = {
  Conv2D: conv2d,
  MaxPool: pool("MaxPool"),
  AvgPool: pool("AveragePool"),
  Pad: pad,
  PadV2: pad,
  ResizeBilinear: resizeBilinear,
  ConcatV2: concat,
  SplitV: splitV,
  Transpose: transpose,
  Reshape: reshape,
  LeakyRelu: unary("LeakyRelu", (n) => ({ alpha: { f: n.attr.alpha?.f ?? 0.2 } })),
  Relu: unary("Relu"),
  Sigmoid: unary("Sigmoid"),
  Identity: unary("Identity"),
  Add: binary("Add"),
  AddV2: binary("Add"),
  Sub: binary("Sub"),
  Mul: binary("Mul"),
};
