/**
 * Decoding the output of a YOLOv8-format detector (ultralytics export, no NMS in the graph): ONE
 * output `[1, 4 + C, N]` — for each of N anchors, rows 0..3 hold box centre x, centre y, width and
 * height in model-input pixels (of the letterboxed input), rows 4..4+C-1 the per-class scores,
 * already sigmoid-ed (no objectness). Some re-exports transpose it to `[1, N, 4 + C]`
 * ("anchors-first"); the layout must then be said, since a flat buffer cannot tell. Also here: the
 * class names and input size an ultralytics export writes into the ONNX metadata (`names`,
 * `imgsz`, Python reprs).
 */
import type { Detection } from "./nms.ts";

/** "channels-first" = [1, 4+C, N] (ultralytics default); "anchors-first" = [1, N, 4+C] */
export type YoloV8Layout = "channels-first" | "anchors-first";

export interface YoloV8DecodeOptions {
  numClasses: number;
  scoreThreshold: number;
  /** class ids to keep; undefined = all */
  classes?: readonly number[];
  /** default "channels-first" */
  layout?: YoloV8Layout;
}

/**
 * `[1, 4+C, N]` (or `[1, N, 4+C]`) -> candidates x1y1x2y2 in model-input pixels, one per anchor and
 * kept class whose score is above the threshold (before NMS).
 */
export function decodeYoloV8(data: Float32Array, opts: YoloV8DecodeOptions): Detection[] {
  const C = opts.numClasses;
  const rows = 4 + C;
  if (!(C > 0) || data.length === 0 || data.length % rows !== 0) {
    throw new Error(`YOLOv8 output has ${data.length} values, not a multiple of 4 + ${C} classes`);
  }
  const N = data.length / rows;
  // value of row r (0..3 box, 4.. classes) for anchor i
  const channelsFirst = (opts.layout ?? "channels-first") === "channels-first";
  const rowStride = channelsFirst ? N : 1;
  const anchorStride = channelsFirst ? 1 : rows;
  const classes = opts.classes ?? Array.from({ length: C }, (_, k) => k);
  for (const c of classes) if (!(c >= 0 && c < C)) throw new Error(`class id ${c} out of range 0..${C - 1}`);
  const out: Detection[] = [];
  for (let i = 0; i < N; i++) {
    const base = i * anchorStride;
    for (const c of classes) {
      const score = data[base + (4 + c) * rowStride]!;
      if (!(score > opts.scoreThreshold)) continue;
      const cx = data[base]!;
      const cy = data[base + rowStride]!;
      const hw = data[base + 2 * rowStride]! / 2;
      const hh = data[base + 3 * rowStride]! / 2;
      out.push({ box: [cx - hw, cy - hh, cx + hw, cy + hh], score, cls: c });
    }
  }
  return out;
}

/**
 * Layout and class count from an output shape of rank 3 with batch 1. With `numClasses` known, the
 * dimension equal to 4 + C is the channel one (channels-first when both are); without it the
 * layout given (default channels-first) decides. Dynamic dims are passed as undefined.
 */
export function yoloV8OutputLayout(
  shape: readonly (number | undefined)[],
  hint: { numClasses?: number; layout?: YoloV8Layout } = {},
): { layout: YoloV8Layout; numClasses: number; anchors?: number } {
  if (shape.length !== 3 || (shape[0] !== undefined && shape[0] !== 1)) {
    throw new Error(`YOLOv8 output must be [1, 4+C, N] or [1, N, 4+C], got [${shape.map((d) => d ?? "?").join(", ")}]`);
  }
  const [, a, b] = shape;
  const C = hint.numClasses;
  let layout = hint.layout;
  if (!layout && C !== undefined) {
    if (a === 4 + C) layout = "channels-first";
    else if (b === 4 + C) layout = "anchors-first";
  }
  layout ??= "channels-first";
  const channels = layout === "channels-first" ? a : b;
  const anchors = layout === "channels-first" ? b : a;
  const numClasses = C ?? (channels !== undefined ? channels - 4 : undefined);
  if (numClasses === undefined || !(numClasses > 0)) {
    throw new Error(`cannot tell the class count of a YOLOv8 output [${shape.map((d) => d ?? "?").join(", ")}]; give the classes`);
  }
  if (channels !== undefined && channels !== 4 + numClasses) {
    throw new Error(`YOLOv8 output [${shape.join(", ")}] (${layout}) has ${channels} channels, expected 4 + ${numClasses} classes`);
  }
  return anchors === undefined ? { layout, numClasses } : { layout, numClasses, anchors };
}

/**
 * Class names from ultralytics' `names` metadata, a Python dict repr such as
 * `{0: 'person', 1: 'bicycle', 2: "pilot's seat"}`; undefined when absent or not contiguous from 0.
 */
export function parseUltralyticsNames(repr: string | undefined): string[] | undefined {
  if (!repr) return undefined;
  const names: string[] = [];
  for (const m of repr.matchAll(/(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g)) {
    const k = Number(m[1]);
    const raw = m[2] ?? m[3] ?? "";
    names[k] = raw.replace(/\\(.)/g, "$1");
  }
  if (names.length === 0) return undefined;
  // sparse ids (a hole in 0..max) -> unusable
  for (let k = 0; k < names.length; k++) if (names[k] === undefined) return undefined;
  return names;
}

/** input size [width, height] from ultralytics' `imgsz` metadata (`[640, 640]` = [h, w], or `640`) */
export function parseUltralyticsImgsz(repr: string | undefined): [number, number] | undefined {
  const nums = repr?.match(/\d+/g)?.map(Number) ?? [];
  if (nums.length === 1) return [nums[0]!, nums[0]!];
  if (nums.length === 2) return [nums[1]!, nums[0]!];
  return undefined;
}
