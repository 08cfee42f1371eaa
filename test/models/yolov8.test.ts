/**
 * The YOLOv8-format path: the decoder on hand-made tensors (both layouts and the transposed-layout
 * pitfall, thresholds, class filter, errors), the reading of ultralytics metadata and model
 * references, and end to end through the real onnxruntime-node: the tiny model of
 * models/tiny-yolo.ts built into a temp dir, registered, run by the Detector on synthetic frames of
 * coloured blocks; expected boxes, classes and scores come from the tiny model's documented formula
 * and the letterbox mapping, computed independently here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COCO_CLASSES } from "../../models/coco-classes.ts";
import { Detector } from "../../models/detector.ts";
import type { Detection } from "../../models/nms.ts";
import { detectorModelFromEnv, getModel, MODELS, parseModelRef, registerYoloV8 } from "../../models/registry.ts";
import { writeTinyYoloV8 } from "../../models/tiny-yolo.ts";
import {
  decodeYoloV8,
  parseUltralyticsImgsz,
  parseUltralyticsNames,
  yoloV8OutputLayout,
} from "../../models/yolov8-decoder.ts";

/** [1, 4+C, N] from per-anchor rows [cx, cy, w, h, ...scores] */
function channelsFirst(anchors: number[][]): Float32Array {
  const rows = anchors[0]!.length;
  const N = anchors.length;
  const out = new Float32Array(rows * N);
  anchors.forEach((a, i) => a.forEach((v, r) => (out[r * N + i] = v)));
  return out;
}

/** [1, N, 4+C] */
const anchorsFirst = (anchors: number[][]): Float32Array => Float32Array.from(anchors.flat());

const byPlace = (a: Detection, b: Detection) => a.cls - b.cls || a.box[0] - b.box[0] || a.box[1] - b.box[1];

describe("decodeYoloV8 on hand-made tensors", () => {
  // C = 3, N = 4: [cx, cy, w, h, s0, s1, s2]
  const anchors = [
    [100, 50, 20, 40, 0.9, 0.1, 0.0],
    [300, 200, 60, 30, 0.2, 0.05, 0.7],
    [10, 10, 4, 4, 0.5, 0.0, 0.0], // exactly at the threshold: dropped (score must exceed it)
    [200, 100, 50, 50, 0.6, 0.0, 0.8], // two classes above the threshold: two candidates
  ];

  it("decodes channels-first [1, 4+C, N]: centre/size -> x1y1x2y2, class, score", () => {
    const d = decodeYoloV8(channelsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5 }).sort(byPlace);
    expect(d.map((x) => x.cls)).toEqual([0, 0, 2, 2]);
    expect(d[0]!.box).toEqual([90, 30, 110, 70]);
    expect(d[0]!.score).toBeCloseTo(0.9, 6);
    expect(d[1]!.box).toEqual([175, 75, 225, 125]);
    expect(d[1]!.score).toBeCloseTo(0.6, 6);
    expect(d[2]!.box).toEqual([175, 75, 225, 125]);
    expect(d[2]!.score).toBeCloseTo(0.8, 6);
    expect(d[3]!.box).toEqual([270, 185, 330, 215]);
    expect(d[3]!.score).toBeCloseTo(0.7, 6);
  });

  it("anchors-first [1, N, 4+C] gives the same candidates when said so; read the wrong way it does not", () => {
    const want = decodeYoloV8(channelsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5 }).sort(byPlace);
    const same = decodeYoloV8(anchorsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5, layout: "anchors-first" }).sort(byPlace);
    expect(same).toEqual(want);
    // the pitfall: a transposed buffer decoded as channels-first is garbage (same length, no error)
    const wrong = decodeYoloV8(anchorsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5 }).sort(byPlace);
    expect(wrong).not.toEqual(want);
    // and the reverse
    const wrong2 = decodeYoloV8(channelsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5, layout: "anchors-first" }).sort(byPlace);
    expect(wrong2).not.toEqual(want);
  });

  it("keeps only the configured classes", () => {
    const d = decodeYoloV8(channelsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5, classes: [2] });
    expect(d.map((x) => x.cls)).toEqual([2, 2]);
    expect(decodeYoloV8(channelsFirst(anchors), { numClasses: 3, scoreThreshold: 0.5, classes: [1] })).toEqual([]);
    expect(decodeYoloV8(channelsFirst(anchors), { numClasses: 3, scoreThreshold: 0.06, classes: [1] })).toHaveLength(1);
  });

  it("rejects a buffer that is not 4+C rows and class ids out of range", () => {
    expect(() => decodeYoloV8(new Float32Array(7 * 4 + 1), { numClasses: 3, scoreThreshold: 0.5 })).toThrow(/multiple/);
    expect(() => decodeYoloV8(new Float32Array(0), { numClasses: 3, scoreThreshold: 0.5 })).toThrow();
    expect(() => decodeYoloV8(new Float32Array(28), { numClasses: 3, scoreThreshold: 0.5, classes: [3] })).toThrow(/range/);
  });

  it("works at COCO scale ([1, 84, 8400]) with a single planted box", () => {
    const N = 8400;
    const data = new Float32Array(84 * N);
    const i = 5123;
    data[i] = 320;
    data[N + i] = 240;
    data[2 * N + i] = 64;
    data[3 * N + i] = 128;
    data[(4 + 0) * N + i] = 0.93;
    data[(4 + 56) * N + i] = 0.4; // chair, below threshold
    const d = decodeYoloV8(data, { numClasses: 80, scoreThreshold: 0.35 });
    expect(d).toHaveLength(2);
    const person = decodeYoloV8(data, { numClasses: 80, scoreThreshold: 0.35, classes: [0] });
    expect(person).toHaveLength(1);
    expect(person[0]!.box).toEqual([288, 176, 352, 304]);
    expect(person[0]!.score).toBeCloseTo(0.93, 6);
  });
});

describe("YOLOv8 output shapes, ultralytics metadata, model references", () => {
  it("tells the layout and class count from the output shape", () => {
    expect(yoloV8OutputLayout([1, 84, 8400])).toEqual({ layout: "channels-first", numClasses: 80, anchors: 8400 });
    expect(yoloV8OutputLayout([1, 8400, 84], { numClasses: 80 })).toEqual({ layout: "anchors-first", numClasses: 80, anchors: 8400 });
    expect(yoloV8OutputLayout([1, 84, 16], { numClasses: 80 })).toEqual({ layout: "channels-first", numClasses: 80, anchors: 16 });
    expect(yoloV8OutputLayout([1, 16, 84], { numClasses: 80 })).toEqual({ layout: "anchors-first", numClasses: 80, anchors: 16 });
    expect(yoloV8OutputLayout([1, 8400, 84], { layout: "anchors-first" })).toEqual({ layout: "anchors-first", numClasses: 80, anchors: 8400 });
    expect(yoloV8OutputLayout([1, 6, undefined])).toEqual({ layout: "channels-first", numClasses: 2 });
    expect(() => yoloV8OutputLayout([1, 85, 8400], { numClasses: 80 })).toThrow(/channels/);
    expect(() => yoloV8OutputLayout([1, undefined, 8400])).toThrow(/class count/);
    expect(() => yoloV8OutputLayout([84, 8400])).toThrow(/must be/);
  });

  it("reads ultralytics `names` and `imgsz` metadata", () => {
    expect(parseUltralyticsNames(`{0: 'person', 1: "pilot's seat", 2: 'teddy bear'}`)).toEqual(["person", "pilot's seat", "teddy bear"]);
    expect(parseUltralyticsNames(`{0: 'a', 2: 'c'}`)).toBeUndefined();
    expect(parseUltralyticsNames(undefined)).toBeUndefined();
    expect(parseUltralyticsImgsz("[640, 640]")).toEqual([640, 640]);
    expect(parseUltralyticsImgsz("[384, 640]")).toEqual([640, 384]);
    expect(parseUltralyticsImgsz("320")).toEqual([320, 320]);
  });

  it("parses yolov8: references and FOOTFALL_DETECTOR_MODEL", () => {
    expect(parseModelRef("yolov8:/m/yolov8n.onnx")).toEqual({ file: "/m/yolov8n.onnx" });
    expect(parseModelRef("yolov8:/m/yolov8n.onnx:640")).toEqual({ file: "/m/yolov8n.onnx", inputSize: 640 });
    expect(parseModelRef("yolov8:/m/y.onnx:640x384")).toEqual({ file: "/m/y.onnx", inputSize: [640, 384] });
    expect(parseModelRef("nanodet-m")).toBeUndefined();
    expect(detectorModelFromEnv({})).toBe("nanodet-m");
    expect(detectorModelFromEnv({ FOOTFALL_DETECTOR_MODEL: " yolov8:/m/y.onnx " })).toBe("yolov8:/m/y.onnx");
    expect(() => getModel("yolov8:/nonexistent/model.onnx")).toThrow(/cannot read/);
    expect(() => getModel("yolo-nonsense")).toThrow(/unknown model/);
  });
});

// ---- end to end through onnxruntime-node -----------------------------------------------------

const S = 64; // tiny model input side
const STRIDE = 16; // its grid cell; 32 source pixels at scale 0.5
const BLOCK = 32;
type Rgb = [number, number, number];

/** frame of BLOCK×BLOCK source blocks of the given colours (rows of columns) */
function blockFrame(blocks: Rgb[][]): { rgb: Uint8Array; width: number; height: number } {
  const height = blocks.length * BLOCK;
  const width = blocks[0]!.length * BLOCK;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = blocks[Math.floor(y / BLOCK)]![Math.floor(x / BLOCK)]!;
      rgb.set(c, (y * width + x) * 3);
    }
  }
  return { rgb, width, height };
}

/**
 * What the tiny model + detector should report, from its documented formula (cell centre, w = 16B+8,
 * h = 32B+8, class 0 = R, class 2 = G, colours / 255, padding grey 114) and the letterbox of a
 * frame whose blocks land exactly on model cells (scale 0.5, padding a multiple of 16).
 */
function expected(blocks: Rgb[][], classes: readonly number[], threshold: number): Detection[] {
  const height = blocks.length * BLOCK;
  const width = blocks[0]!.length * BLOCK;
  const scale = Math.min(S / width, S / height);
  expect(scale).toBe(0.5);
  const padX = (S - width * scale) / 2;
  const padY = (S - height * scale) / 2;
  const out: Detection[] = [];
  for (let r = 0; r < S / STRIDE; r++) {
    for (let c = 0; c < S / STRIDE; c++) {
      const br = (r * STRIDE - padY) / STRIDE;
      const bc = (c * STRIDE - padX) / STRIDE;
      const colour = blocks[br]?.[bc] ?? [114, 114, 114];
      const [R, G, B] = colour.map((v) => v / 255) as Rgb;
      const cx = (c + 0.5) * STRIDE;
      const cy = (r + 0.5) * STRIDE;
      const w = 16 * B + 8;
      const h = 32 * B + 8;
      const toSrcX = (v: number) => Math.min(width, Math.max(0, (v - padX) / scale));
      const toSrcY = (v: number) => Math.min(height, Math.max(0, (v - padY) / scale));
      const box: Detection["box"] = [toSrcX(cx - w / 2), toSrcY(cy - h / 2), toSrcX(cx + w / 2), toSrcY(cy + h / 2)];
      for (const [cls, score] of [[0, R], [2, G]] as const) {
        if (classes.includes(cls) && score > threshold) out.push({ box, score, cls });
      }
    }
  }
  return out.sort(byPlace);
}

function expectSame(got: Detection[], want: Detection[]): void {
  const g = [...got].sort(byPlace);
  expect(g.map((d) => d.cls)).toEqual(want.map((d) => d.cls));
  g.forEach((d, k) => {
    const w = want[k]!;
    expect(d.score).toBeCloseTo(w.score, 4);
    d.box.forEach((v, j) => expect(v).toBeCloseTo(w.box[j]!, 2));
  });
}

const fmt = (det: Detector, ds: Detection[]) =>
  ds.map((d) => `${det.className(d.cls)} ${d.score.toFixed(3)}@[${d.box.map((v) => v.toFixed(1)).join(",")}]`).join(" ");

describe("tiny YOLOv8-format model end to end (onnxruntime-node)", () => {
  let dir: string;
  let cocoFile: string;
  const RED: Rgb = [255, 0, 0];
  const CYANISH: Rgb = [0, 255, 128];
  const PINK: Rgb = [200, 0, 64];
  const BLACK: Rgb = [0, 0, 0];
  const DIM: Rgb = [100, 100, 100];
  // 128x64 landscape frame (padding top/bottom) and 64x128 portrait frame (padding left/right)
  const WIDE: Rgb[][] = [
    [RED, BLACK, CYANISH, DIM],
    [BLACK, PINK, BLACK, RED],
  ];
  const TALL: Rgb[][] = [[RED, BLACK], [DIM, CYANISH], [BLACK, PINK], [RED, RED]];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "footfall-yolov8-"));
    cocoFile = writeTinyYoloV8(join(dir, "tiny-coco.onnx"));
    registerYoloV8({ name: "tiny-coco", file: cocoFile });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("registers from the file: input size and COCO names from its metadata, NanoDet stays the default", () => {
    const m = getModel("tiny-coco");
    expect(m.inputShape).toEqual([1, 3, S, S]);
    expect(m.classes).toEqual(COCO_CLASSES);
    expect(m.preprocess).toMatchObject({ channelOrder: "rgb", layout: "nchw", padValue: 114, std: [255, 255, 255] });
    expect(MODELS.has("nanodet-m")).toBe(true);
    expect(() => registerYoloV8({ name: "nanodet-m", file: cocoFile })).toThrow(/built-in/);
    expect(() => registerYoloV8({ name: "tiny-640", file: cocoFile, inputSize: 640 })).toThrow(/fixed at 64x64/);
  });

  it("finds the planted boxes, mapped back to source pixels, for landscape and portrait frames", async () => {
    const det = await Detector.create({ model: "tiny-coco", classes: [], scoreThreshold: 0.5 });
    try {
      for (const [name, blocks] of [["wide", WIDE], ["tall", TALL]] as const) {
        const f = blockFrame(blocks);
        const r = await det.detect(f.rgb, f.width, f.height);
        const want = expected(blocks, [0, 2], 0.5);
        console.log(`${name} ${f.width}x${f.height} pad ${r.transform.padX},${r.transform.padY}:`, fmt(det, r.detections));
        expect(want.length).toBeGreaterThanOrEqual(4);
        expectSame(r.detections, want);
        for (const d of r.detections) expect(["person", "car"]).toContain(det.className(d.cls));
      }
    } finally {
      await det.close();
    }
  });

  it("filters classes by name (person only by default, car, bicycle never fires)", async () => {
    const f = blockFrame(WIDE);
    const persons = await Detector.create({ model: "tiny-coco", scoreThreshold: 0.5 });
    const cars = await Detector.create({ model: "tiny-coco", classes: ["car"], scoreThreshold: 0.5 });
    const bikes = await Detector.create({ model: "tiny-coco", classes: ["bicycle"], scoreThreshold: 0.01 });
    try {
      const p = (await persons.detect(f.rgb, f.width, f.height)).detections;
      const c = (await cars.detect(f.rgb, f.width, f.height)).detections;
      const b = (await bikes.detect(f.rgb, f.width, f.height)).detections;
      console.log("person:", fmt(persons, p), "| car:", fmt(cars, c), "| bicycle:", b.length);
      expectSame(p, expected(WIDE, [0], 0.5));
      expectSame(c, expected(WIDE, [2], 0.5));
      expect(p.length).toBe(3);
      expect(c.length).toBe(1);
      expect(b).toEqual([]);
      await expect(Detector.create({ model: "tiny-coco", classes: ["unicorn"] })).rejects.toThrow(/unicorn/);
    } finally {
      await Promise.all([persons.close(), cars.close(), bikes.close()]);
    }
  });

  it("letterbox padding is grey 114 scaled to 0..1: pad cells score 114/255 for person and car", async () => {
    const det = await Detector.create({ model: "tiny-coco", classes: [], scoreThreshold: 0.4, maxDetections: 1000 });
    try {
      const f = blockFrame(WIDE);
      const r = await det.detect(f.rgb, f.width, f.height);
      const pad = r.detections.filter((d) => Math.abs(d.score - 114 / 255) < 1e-4);
      // 2 padding rows of 4 cells, person (R) and car (G) each
      expect(pad).toHaveLength(16);
      expectSame(r.detections, expected(WIDE, [0, 2], 0.4));
    } finally {
      await det.close();
    }
  });

  it("an anchors-first export ([1, N, 84]) is recognised from its shape and decodes the same", async () => {
    const file = writeTinyYoloV8(join(dir, "tiny-t.onnx"), { layout: "anchors-first" });
    // forcing the wrong layout is caught against the shape instead of decoding garbage
    expect(() => registerYoloV8({ name: "tiny-t-wrong", file, layout: "channels-first" })).toThrow(/channels/);
    const a = await Detector.create({ model: `yolov8:${file}`, classes: [], scoreThreshold: 0.5 });
    try {
      const f = blockFrame(WIDE);
      expectSame((await a.detect(f.rgb, f.width, f.height)).detections, expected(WIDE, [0, 2], 0.5));
    } finally {
      await a.close();
    }
  });

  it("own class names: given in the config, else class0.. from the output shape", async () => {
    const file = writeTinyYoloV8(join(dir, "tiny-3.onnx"), { classes: ["person", "bike", "car"], metadata: false });
    const named = registerYoloV8({ name: "tiny-3", file, classes: ["walker", "bike", "cart"] });
    expect(named.classes).toEqual(["walker", "bike", "cart"]);
    const anon = getModel(detectorModelFromEnv({ FOOTFALL_DETECTOR_MODEL: `yolov8:${file}:64` }));
    expect(anon.classes).toEqual(["class0", "class1", "class2"]);
    expect(anon.inputShape).toEqual([1, 3, 64, 64]);
    const det = await Detector.create({ model: "tiny-3", classes: ["cart"], scoreThreshold: 0.5 });
    try {
      const f = blockFrame(TALL);
      const r = await det.detect(f.rgb, f.width, f.height);
      expectSame(r.detections, expected(TALL, [2], 0.5));
      expect(r.detections.every((d) => det.className(d.cls) === "cart")).toBe(true);
    } finally {
      await det.close();
    }
  });
});
