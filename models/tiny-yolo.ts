/**
 * A TINY YOLOv8-format ONNX model built with the in-house ONNX writer, to check the YOLOv8 path
 * (registry, session, letterbox, decoder, NMS, mapping back to source pixels) end to end without
 * real weights. Input `images` [1, 3, S, S] (RGB 0..1), output `output0` [1, 4 + C, N] (or
 * [1, N, 4 + C] with `layout: "anchors-first"`), one anchor per cell of a (S/16)×(S/16) grid,
 * row-major. With (R, G, B) the cell's mean input colour, cell (row, col) predicts:
 *
 *   cx = (col + 0.5) * 16, cy = (row + 0.5) * 16, w = 16 * B + 8, h = 32 * B + 8,
 *   score[class 0] = R, score[class 2] = G, every other class 0.
 *
 * Graph: AveragePool 16×16/16 -> Conv 1×1 (84 fixed filters + bias) -> Add (cell centres) ->
 * Reshape [1, 4+C, N] (-> Transpose). Like an ultralytics export it carries `names` and `imgsz`
 * metadata (Python reprs) unless `metadata: false`.
 * CLI: `npx tsx models/tiny-yolo.ts [--out models/cache/tiny-yolov8.onnx] [--size 64]`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import { COCO_CLASSES } from "./coco-classes.ts";
import { OnnxGraphBuilder } from "./onnx/ir.ts";
import { encodeModel } from "./onnx/write.ts";
import type { YoloV8Layout } from "./yolov8-decoder.ts";

/** grid cell size in input pixels */
export const TINY_YOLO_STRIDE = 16;
export const TINY_YOLO_FILE = join(dirname(fileURLToPath(import.meta.url)), "cache", "tiny-yolov8.onnx");

export interface TinyYoloOptions {
  /** input side S, a multiple of 16 (default 64) */
  size?: number;
  /** class names (default the 80 COCO classes); at least 3 */
  classes?: readonly string[];
  layout?: YoloV8Layout;
  /** write ultralytics-style `names`/`imgsz` metadata (default true) */
  metadata?: boolean;
}

/** Python dict repr of class names, as ultralytics writes `names` */
function pythonNamesRepr(names: readonly string[]): string {
  const q = (s: string) => (s.includes("'") ? `"${s.replace(/["\\]/g, "\\$&")}"` : `'${s.replace(/\\/g, "\\\\")}'`);
  return `{${names.map((n, k) => `${k}: ${q(n)}`).join(", ")}}`;
}

/** the .onnx bytes of the tiny model */
export function buildTinyYoloV8(opts: TinyYoloOptions = {}): Uint8Array {
  const S = opts.size ?? 64;
  const names = opts.classes ?? COCO_CLASSES;
  const C = names.length;
  if (!(S >= TINY_YOLO_STRIDE && S % TINY_YOLO_STRIDE === 0)) throw new Error(`size ${S} must be a positive multiple of ${TINY_YOLO_STRIDE}`);
  if (C < 3) throw new Error("the tiny model needs at least 3 classes");
  const G = S / TINY_YOLO_STRIDE;
  const N = G * G;
  const rows = 4 + C;
  const g = new OnnxGraphBuilder();
  const input = g.reserve("images");
  g.inputs.push({ name: input, dtype: "float32", shape: [1, 3, S, S] });

  const pooled = g.unique("cell_mean");
  g.addNode("AveragePool", [input], [pooled], {
    kernel_shape: { ints: [TINY_YOLO_STRIDE, TINY_YOLO_STRIDE] },
    strides: { ints: [TINY_YOLO_STRIDE, TINY_YOLO_STRIDE] },
  });

  // 1x1 conv: output row r = sum_k weight[r][k] * mean[k] + bias[r]   (k: 0 R, 1 G, 2 B)
  const weight = new Float32Array(rows * 3);
  const bias = new Float32Array(rows);
  weight[2 * 3 + 2] = 16; // w = 16 B + 8
  bias[2] = 8;
  weight[3 * 3 + 2] = 32; // h = 32 B + 8
  bias[3] = 8;
  weight[(4 + 0) * 3 + 0] = 1; // class 0 <- R
  weight[(4 + 2) * 3 + 1] = 1; // class 2 <- G
  const W = g.addConst("head.weight", { dtype: "float32", shape: [rows, 3, 1, 1], data: weight });
  const B = g.addConst("head.bias", { dtype: "float32", shape: [rows], data: bias });
  const head = g.unique("head");
  g.addNode("Conv", [pooled, W, B], [head], { kernel_shape: { ints: [1, 1] } });

  // cell centres in rows 0 (cx) and 1 (cy)
  const centres = new Float32Array(rows * N);
  for (let i = 0; i < N; i++) {
    centres[i] = ((i % G) + 0.5) * TINY_YOLO_STRIDE;
    centres[N + i] = (Math.floor(i / G) + 0.5) * TINY_YOLO_STRIDE;
  }
  const grid = g.addConst("anchor_centres", { dtype: "float32", shape: [1, rows, G, G], data: centres });
  const placed = g.unique("placed");
  g.addNode("Add", [head, grid], [placed]);

  const anchorsFirst = opts.layout === "anchors-first";
  const output = g.reserve("output0");
  const flat = anchorsFirst ? g.unique("flat") : output;
  g.addNode("Reshape", [placed, g.int64("flat_shape", [1, rows, N])], [flat]);
  if (anchorsFirst) g.addNode("Transpose", [flat], [output], { perm: { ints: [0, 2, 1] } });
  g.outputs.push({ name: output, dtype: "float32", shape: anchorsFirst ? [1, N, rows] : [1, rows, N] });

  const bytes = encodeModel(g, "tiny-yolov8", "footfall tiny YOLOv8-format test model (fixed weights)");
  if (opts.metadata === false) return bytes;
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(bytes);
  model.metadataProps = [
    { key: "task", value: "detect" },
    { key: "imgsz", value: `[${S}, ${S}]` },
    { key: "names", value: pythonNamesRepr(names) },
  ].map((e) => onnx.StringStringEntryProto.create(e));
  return onnx.ModelProto.encode(model).finish();
}

/** build the tiny model into `file` (directories made); returns the path */
export function writeTinyYoloV8(file: string = TINY_YOLO_FILE, opts: TinyYoloOptions = {}): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, buildTinyYoloV8(opts));
  return file;
}

function main(argv: string[]): void {
  const arg = (name: string) => {
    const k = argv.indexOf(name);
    return k >= 0 ? argv[k + 1] : undefined;
  };
  const out = resolve(arg("--out") ?? TINY_YOLO_FILE);
  const size = Number(arg("--size") ?? 64);
  writeTinyYoloV8(out, { size });
  console.log(`wrote ${out} (input ${size}x${size}); try FOOTFALL_DETECTOR_MODEL=yolov8:${out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
