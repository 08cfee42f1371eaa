/**
 * The tfjs graph reader: float16 decoding, and every NanoDet weight decoded from the manifest
 * equal to the weight tfjs-converter itself loads from the same files.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { describe, expect, it } from "vitest";
import { NANODET_TFJS_JSON } from "../../models/convert-nanodet.ts";
import { halfToFloat, parseRef, readTfjsGraph, refName, tfjsIOHandler } from "../../models/tfjs-graph.ts";

describe("tfjs graph reader", () => {
  it("decodes float16", () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x3555)).toBeCloseTo(1 / 3, 3);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x8000)).toBe(-0);
  });

  it("parses tensor refs", () => {
    expect(parseRef("a/b:1")).toEqual({ node: "a/b", output: 1 });
    expect(parseRef("a/b")).toEqual({ node: "a/b", output: 0 });
    expect(parseRef("^a")).toBeNull();
    expect(refName("x:0")).toBe("x");
    expect(refName("x:2")).toBe("x:2");
  });

  it("reads NanoDet's weights exactly as tfjs does", async () => {
    const g = readTfjsGraph(NANODET_TFJS_JSON);
    expect(g.weights.size).toBe(229);
    expect(g.nodes.find((n) => n.op === "Placeholder")?.name).toBe("input_1");
    await tf.setBackend("cpu");
    const model = await loadGraphModel(tfjsIOHandler(g) as Parameters<typeof loadGraphModel>[0]);
    let compared = 0;
    for (const [name, tensors] of Object.entries(model.weights)) {
      const mine = g.weights.get(name);
      const theirs = tensors[0];
      if (!mine || !theirs) continue;
      expect(mine.shape, name).toEqual(theirs.shape);
      const a = theirs.dataSync();
      expect(mine.data.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) if (mine.data[i] !== a[i]) throw new Error(`${name}[${i}]: ${mine.data[i]} != ${a[i]}`);
      compared++;
    }
    console.log(`${compared} weights compared with tfjs-converter's`);
    expect(compared).toBeGreaterThan(60);
    model.dispose();
  });
});
