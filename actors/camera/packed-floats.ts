/**
 * Number arrays of the camera actor's snapshot (filter states, embeddings) as base64 of their
 * IEEE bytes: lossless (a decoded state continues exactly like the original) and about half the
 * size of JSON decimals. Little-endian, as every platform Node runs on.
 */

export function packF64(values: ArrayLike<number>): string {
  return Buffer.from(Float64Array.from(values).buffer).toString("base64");
}

export function unpackF64(s: string): number[] {
  const b = Buffer.from(s, "base64");
  if (b.length % 8 !== 0) throw new Error("packed float64 array of a bad length");
  const out = new Array<number>(b.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = b.readDoubleLE(i * 8);
  return out;
}

export function packF32(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
}

export function unpackF32(s: string): Float32Array {
  const b = Buffer.from(s, "base64");
  if (b.length % 4 !== 0) throw new Error("packed float32 array of a bad length");
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}
