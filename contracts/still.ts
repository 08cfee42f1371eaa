import { z } from "zod";
import { MAX_TS, MIN_TS } from "./time.ts";

/**
 * A camera still: the newest picture of a camera running footfall's camera agent, a JPEG sent
 * every few seconds for the wall's camera tile (the current detections' boxes are drawn over it).
 *
 *   footfall/v1/{site}/camera/{cameraId}/still   QoS 1; stored (KV ff_stills, "{site}.{camera}") before the PUBACK
 *
 * Payload (and the stored value): one line of JSON, the StillHeader, then "\n", then the JPEG
 * bytes. Binary, so a still costs its JPEG and a few dozen bytes, not a third more for base64.
 * The JPEG is at most STILL_MAX_WIDTH pixels wide and STILL_MAX_BYTES long; anything that is not a
 * baseline or progressive JPEG (SOI ... SOF ... EOI) is refused.
 */
export const STILL_MAX_WIDTH = 640;
/** Largest JPEG of a still (the payload adds the header line). */
export const STILL_MAX_BYTES = 192 * 1024;
/** Longest header line (the JSON before "\n"). */
export const STILL_MAX_HEADER_BYTES = 512;

export const StillHeader = z.strictObject({
  /** capture time of the picture (epoch ms): the frame time of the frame it shows */
  ts: z.number().int().min(MIN_TS, "ts out of range (2000-01-01 .. 2100-01-01)").max(MAX_TS, "ts out of range (2000-01-01 .. 2100-01-01)"),
  /** size of the camera's frame in pixels: the space its detection boxes are in (the JPEG may be smaller) */
  width: z.number().int().min(1).max(16_384),
  height: z.number().int().min(1).max(16_384),
});
export type StillHeader = z.infer<typeof StillHeader>;

/** A still as sent and as stored. */
export interface Still { header: StillHeader; jpeg: Uint8Array }

export type StillReading =
  | { ok: true; still: Still; jpegWidth: number; jpegHeight: number }
  | { ok: false; reason: "too_large" | "invalid_payload"; detail: string };

/** The payload of a still: the header line, "\n", the JPEG. */
export function encodeStill(header: StillHeader, jpeg: Uint8Array): Uint8Array {
  const line = new TextEncoder().encode(JSON.stringify(header) + "\n");
  const out = new Uint8Array(line.length + jpeg.length);
  out.set(line, 0);
  out.set(jpeg, line.length);
  return out;
}

/** Reads and checks a still payload (header, JPEG structure, width and size limits). */
export function decodeStill(payload: Uint8Array): StillReading {
  const nl = payload.subarray(0, STILL_MAX_HEADER_BYTES + 1).indexOf(0x0a);
  if (payload[0] !== 0x7b || nl < 0) {
    return { ok: false, reason: "invalid_payload", detail: `a still starts with its JSON header line {"ts", "width", "height"} (at most ${STILL_MAX_HEADER_BYTES} bytes) and a newline, then the JPEG` };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(0, nl)));
  } catch (e) {
    return { ok: false, reason: "invalid_payload", detail: `the header line is not JSON: ${(e as Error).message}` };
  }
  const header = StillHeader.safeParse(json);
  if (!header.success) {
    return { ok: false, reason: "invalid_payload", detail: `header: ${header.error.issues.map((i) => `${i.path.join(".") || "(header)"}: ${i.message}`).join("; ")}` };
  }
  const jpeg = payload.subarray(nl + 1);
  if (jpeg.length > STILL_MAX_BYTES) return { ok: false, reason: "too_large", detail: `JPEG of ${jpeg.length} bytes exceeds the limit of ${STILL_MAX_BYTES}` };
  const size = jpegSize(jpeg);
  if (typeof size === "string") return { ok: false, reason: "invalid_payload", detail: `not a JPEG: ${size}` };
  if (size.width > STILL_MAX_WIDTH) return { ok: false, reason: "invalid_payload", detail: `JPEG of ${size.width} px wide; a still is at most ${STILL_MAX_WIDTH} px wide` };
  return { ok: true, still: { header: header.data, jpeg }, jpegWidth: size.width, jpegHeight: size.height };
}

/** Markers without a length: TEM, RST0..7 (SOI and EOI are handled apart). */
const standalone = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd7);
/** Start of frame markers (SOF0..SOF15 but DHT C4, JPG C8, DAC CC). */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/**
 * The pixel size of a JPEG from its frame header, or why the bytes are not a JPEG: they must
 * start with SOI (FF D8), reach a frame header (SOF) through well-formed marker segments, and end
 * with EOI (FF D9).
 */
export function jpegSize(b: Uint8Array): { width: number; height: number } | string {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return "no start of image marker (FF D8)";
  if (b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9) return "no end of image marker (FF D9): truncated?";
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return `no marker at byte ${i}`;
    let m = b[i + 1]!;
    while (m === 0xff && i + 2 < b.length) m = b[++i + 1]!; // fill bytes
    if (standalone(m)) { i += 2; continue; }
    if (m === 0xd8 || m === 0xd9 || m === 0xda) return `marker FF ${m.toString(16).toUpperCase()} before the frame header`;
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (len < 2 || i + 2 + len > b.length) return `segment FF ${m.toString(16).toUpperCase()} at byte ${i} runs past the end`;
    if (isSof(m)) {
      if (len < 8) return "frame header too short";
      const height = (b[i + 5]! << 8) | b[i + 6]!;
      const width = (b[i + 7]! << 8) | b[i + 8]!;
      if (width === 0 || height === 0) return "frame header with zero size";
      return { width, height };
    }
    i += 2 + len;
  }
  return "no frame header (SOF)";
}
