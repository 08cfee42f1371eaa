/**
 * The NanoDet tfjs -> ONNX converter, checked numerically: the converted file run by
 * onnxruntime-node and the original graph run by tfjs (plain CPU backend) on the same inputs
 * (testsrc2, noise, flat grey, and a vtest.avi frame when opencv-doc is installed) must agree on
 * every output; the boxes decoded from both must agree too.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { loadGraphModel, type GraphModel } from "@tensorflow/tfjs-converter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertTfjsToOnnx, NANODET_TFJS_JSON, type ConversionReport } from "../../models/convert-nanodet.ts";
import { letterbox } from "../../models/letterbox.ts";
import { nms } from "../../models/nms.ts";
import { OnnxSession } from "../../models/onnx-session.ts";
import { NANODET_M } from "../../models/registry.ts";
import { readTfjsGraph, tfjsIOHandler } from "../../models/tfjs-graph.ts";
import { greyFrame, hasVtest, noiseFrame, testsrcFrame, vtestFrame, type RgbFrame } from "./frames.ts";

/** max |onnx - tfjs| allowed per output; measured ~5e-6 on the box logits (|x| < 5), ~4e-7 on scores */
const TOLERANCE = 1e-4;

interface Run {
  frame: RgbFrame;
  onnx: Record<string, Float32Array>;
  tfjs: Record<string, Float32Array>;
}

describe("NanoDet tfjs -> ONNX", () => {
  let dir: string;
  let report: ConversionReport;
  const runs: Run[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "footfall-nanodet-"));
    report = convertTfjsToOnnx(NANODET_TFJS_JSON, join(dir, "nanodet.onnx"));
    console.log(`converted in ${report.ms.toFixed(0)} ms, ${(report.bytes / 1e6).toFixed(2)} MB, ops`, report.ops);

    await tf.setBackend("cpu");
    const graph = readTfjsGraph(NANODET_TFJS_JSON);
    const model: GraphModel = await loadGraphModel(tfjsIOHandler(graph) as Parameters<typeof loadGraphModel>[0]);
    const session = await OnnxSession.create(report.out, NANODET_M.inputShape, { intraOpNumThreads: 2, warmupRuns: 0 });
    const frames = [testsrcFrame(), noiseFrame(), greyFrame(), ...(hasVtest() ? [vtestFrame()] : [])];
    for (const frame of frames) {
      letterbox(frame.rgb, frame.width, frame.height, NANODET_M.preprocess, session.input);
      const onnx = await session.run();
      const t0 = performance.now();
      const x = tf.tensor(session.input, [...NANODET_M.inputShape]);
      const outs = model.execute(x, model.outputNodes) as tf.Tensor[];
      const tfjs: Record<string, Float32Array> = {};
      model.outputNodes.forEach((name, k) => {
        tfjs[name.replace(/:0$/, "")] = outs[k]!.dataSync() as Float32Array;
      });
      tf.dispose([x, ...outs]);
      console.log(`${frame.name}: tfjs cpu ${(performance.now() - t0).toFixed(0)} ms`);
      runs.push({ frame, onnx: { ...onnx }, tfjs });
    }
    await session.release();
    model.dispose();
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("converts every op (no Transpose left between convolutions)", () => {
    expect(report.ops.Conv).toBe(34);
    expect(report.ops.Resize).toBe(4);
    // only the 6 output transposes of the original graph remain
    expect(report.ops.Transpose ?? 0).toBeLessThanOrEqual(6);
    expect(report.ops.SparseToDense).toBeUndefined();
  });

  it("ONNX outputs equal tfjs outputs within tolerance", () => {
    expect(runs.length).toBeGreaterThanOrEqual(3);
    for (const run of runs) {
      const names = Object.keys(run.tfjs).sort();
      expect(Object.keys(run.onnx).sort()).toEqual(names);
      const diffs: string[] = [];
      for (const name of names) {
        const a = run.tfjs[name]!;
        const b = run.onnx[name]!;
        expect(b.length).toBe(a.length);
        let max = 0;
        let maxAbs = 0;
        for (let i = 0; i < a.length; i++) {
          max = Math.max(max, Math.abs(a[i]! - b[i]!));
          maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
        }
        diffs.push(`${name} ${max.toExponential(2)} (|x|max ${maxAbs.toFixed(3)})`);
        expect(max, `${run.frame.name} ${name}`).toBeLessThan(TOLERANCE);
        expect(Number.isFinite(max)).toBe(true);
      }
      console.log(`${run.frame.name}: max abs diff per output: ${diffs.join(", ")}`);
    }
  });

  it("boxes decoded from ONNX equal those decoded from tfjs", () => {
    let compared = 0;
    for (const run of runs) {
      // all classes, low threshold: plenty of candidates on every input
      const opts = { scoreThreshold: 0.05 };
      const fromOnnx = nms(NANODET_M.decode(run.onnx, opts), { iouThreshold: 0.5, maxDetections: 100 });
      const fromTfjs = nms(NANODET_M.decode(run.tfjs, opts), { iouThreshold: 0.5, maxDetections: 100 });
      console.log(`${run.frame.name}: ${fromOnnx.length} detections (onnx), ${fromTfjs.length} (tfjs)`);
      expect(fromOnnx.length).toBe(fromTfjs.length);
      fromOnnx.forEach((d, k) => {
        const e = fromTfjs[k]!;
        expect(d.cls).toBe(e.cls);
        expect(Math.abs(d.score - e.score)).toBeLessThan(1e-4);
        for (let j = 0; j < 4; j++) expect(Math.abs(d.box[j]! - e.box[j]!)).toBeLessThan(1e-2);
      });
      compared += fromOnnx.length;
    }
    expect(compared).toBeGreaterThan(0);
  });
});
