/**
 * Letterboxing: an RGB uint8 frame of any size -> the model's normalised float32 input
 * (CHW planes or NHWC), scaled to fit with the aspect ratio kept and centred with padding, in ONE
 * pass (bilinear sampling, half-pixel centres) into a preallocated Float32Array. Returns the scale
 * and padding so boxes in model pixels map back to source pixels.
 */

export interface LetterboxSpec {
  /** model input width and height */
  width: number;
  height: number;
  layout: "nchw" | "nhwc";
  /** order of the model's channels; the source frame is always RGB */
  channelOrder: "rgb" | "bgr";
  /** per model channel, in the model's channel order: value = (pixel - mean) / std */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** pixel value (0..255, before normalisation) of the padding */
  padValue: number;
}

export interface LetterboxTransform {
  /** model pixels per source pixel */
  scale: number;
  /** left/top padding in model pixels */
  padX: number;
  padY: number;
  /** size of the scaled image inside the model input */
  innerWidth: number;
  innerHeight: number;
}

/** model-input coordinates -> source-frame coordinates */
export function toSource(t: LetterboxTransform, x: number, y: number): [number, number] {
  return [(x - t.padX) / t.scale, (y - t.padY) / t.scale];
}

export function letterboxTransform(srcW: number, srcH: number, dstW: number, dstH: number): LetterboxTransform {
  const scale = Math.min(dstW / srcW, dstH / srcH);
  const innerWidth = Math.min(dstW, Math.round(srcW * scale));
  const innerHeight = Math.min(dstH, Math.round(srcH * scale));
  return { scale, padX: Math.floor((dstW - innerWidth) / 2), padY: Math.floor((dstH - innerHeight) / 2), innerWidth, innerHeight };
}

/** bilinear taps of one axis: for each destination index, two source indices and a weight */
function taps(dst: number, pad: number, inner: number, src: number, scale: number) {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w1 = new Float32Array(dst);
  const inside = new Uint8Array(dst);
  for (let d = 0; d < dst; d++) {
    if (d < pad || d >= pad + inner) continue;
    inside[d] = 1;
    const s = Math.min(src - 1, Math.max(0, (d - pad + 0.5) / scale - 0.5));
    const f = Math.floor(s);
    i0[d] = f;
    i1[d] = Math.min(src - 1, f + 1);
    w1[d] = s - f;
  }
  return { i0, i1, w1, inside };
}

/**
 * Letterbox `rgb` (width*height*3 bytes, row-major RGB) into `out` (length 3*spec.width*spec.height).
 * Tap tables are cached per source size in `cache` when given (pass the same object every frame).
 */
export function letterbox(
  rgb: Uint8Array,
  width: number,
  height: number,
  spec: LetterboxSpec,
  out: Float32Array,
  cache?: { key?: string; x?: ReturnType<typeof taps>; y?: ReturnType<typeof taps> },
): LetterboxTransform {
  const W = spec.width;
  const H = spec.height;
  if (rgb.length < width * height * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${width * height * 3}`);
  if (out.length !== W * H * 3) throw new Error(`output buffer has ${out.length} floats, expected ${W * H * 3}`);
  const t = letterboxTransform(width, height, W, H);
  const key = `${width}x${height}`;
  let tx = cache?.key === key ? cache.x : undefined;
  let ty = cache?.key === key ? cache.y : undefined;
  if (!tx || !ty) {
    tx = taps(W, t.padX, t.innerWidth, width, t.scale);
    ty = taps(H, t.padY, t.innerHeight, height, t.scale);
    if (cache) Object.assign(cache, { key, x: tx, y: ty });
  }
  // model channel k reads source channel src[k]; value = pixel * a[k] + b[k]
  const src = spec.channelOrder === "rgb" ? [0, 1, 2] : [2, 1, 0];
  const a = [0, 1, 2].map((k) => 1 / (spec.std[k] ?? 1));
  const b = [0, 1, 2].map((k) => -(spec.mean[k] ?? 0) / (spec.std[k] ?? 1));
  const s0 = src[0]!, s1 = src[1]!, s2 = src[2]!;
  const a0 = a[0]!, a1 = a[1]!, a2 = a[2]!;
  const b0 = b[0]!, b1 = b[1]!, b2 = b[2]!;
  const pad0 = spec.padValue * a0 + b0, pad1 = spec.padValue * a1 + b1, pad2 = spec.padValue * a2 + b2;
  const plane = W * H;
  const nchw = spec.layout === "nchw";
  // strides of output channel and pixel
  const cs = nchw ? plane : 1;
  const ps = nchw ? 1 : 3;
  const { i0: x0, i1: x1, w1: wx, inside: inX } = tx;
  const rowStride = width * 3;
  for (let y = 0; y < H; y++) {
    let o = y * W * ps;
    if (!ty.inside[y]) {
      for (let x = 0; x < W; x++, o += ps) {
        out[o] = pad0;
        out[o + cs] = pad1;
        out[o + 2 * cs] = pad2;
      }
      continue;
    }
    const r0 = ty.i0[y]! * rowStride;
    const r1 = ty.i1[y]! * rowStride;
    const fy = ty.w1[y]!;
    const gy = 1 - fy;
    for (let x = 0; x < W; x++, o += ps) {
      if (!inX[x]) {
        out[o] = pad0;
        out[o + cs] = pad1;
        out[o + 2 * cs] = pad2;
        continue;
      }
      const c0 = x0[x]! * 3;
      const c1 = x1[x]! * 3;
      const fx = wx[x]!;
      const gx = 1 - fx;
      const w00 = gy * gx, w01 = gy * fx, w10 = fy * gx, w11 = fy * fx;
      const p00 = r0 + c0, p01 = r0 + c1, p10 = r1 + c0, p11 = r1 + c1;
      out[o] = (rgb[p00 + s0]! * w00 + rgb[p01 + s0]! * w01 + rgb[p10 + s0]! * w10 + rgb[p11 + s0]! * w11) * a0 + b0;
      out[o + cs] = (rgb[p00 + s1]! * w00 + rgb[p01 + s1]! * w01 + rgb[p10 + s1]! * w10 + rgb[p11 + s1]! * w11) * a1 + b1;
      out[o + 2 * cs] = (rgb[p00 + s2]! * w00 + rgb[p01 + s2]! * w01 + rgb[p10 + s2]! * w10 + rgb[p11 + s2]! * w11) * a2 + b2;
    }
  }
  return t;
}
