import { z } from "zod";
import { Timestamp } from "./time.ts";

/**
 * The camera event contract: what a smart camera (and our own video pipeline) publishes.
 *
 *   footfall/v1/{site}/camera/{cameraId}/detections   QoS 1, one message per processed frame
 *   footfall/v1/{site}/camera/{cameraId}/status       QoS 0 heartbeat; last will {"state":"offline"}
 *
 * Frames are published for every processed frame, also when nothing was detected (an empty frame
 * tells the tracker that nobody is there). `seq` counts the camera's frames and must keep growing
 * across the camera's restarts (or restart together with a newer frame_ts). Boxes are image pixels
 * [x1, y1, x2, y2] with x1 < x2 and y1 < y2; the tracker places a person at the bottom centre.
 */

/** Colour names used by the colour attributes (upper, lower, shoes, ...). */
export const COLOURS = [
  "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "beige",
] as const;
export type Colour = (typeof COLOURS)[number];
export const Colour = z.enum(COLOURS);

/** Attributes whose values must be colour names. Others take any short token (e.g. "bag": "yes"). */
export const COLOUR_ATTRIBUTES = ["upper", "lower", "shoes", "hat"] as const;

export const AttrName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "attribute names are 1-32 characters of a-z 0-9 _ starting with a letter");
export const AttrValue = z.strictObject({
  value: z.string().regex(/^[a-z0-9_-]{1,32}$/, "attribute values are 1-32 characters of a-z 0-9 _ -"),
  conf: z.number().min(0).max(1),
});
export type AttrValue = z.infer<typeof AttrValue>;

const pixel = z.number().min(-10_000).max(100_000);

export const Detection = z
  .strictObject({
    /** detection id, unique per camera (the seed's detection_oid) */
    oid: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, "oid must be printable ASCII without spaces"),
    cls: z.string().min(1).max(32),
    score: z.number().min(0).max(1),
    box: z.tuple([pixel, pixel, pixel, pixel]),
    attrs: z.record(AttrName, AttrValue).optional(),
    embedding: z.array(z.number().min(-1e6).max(1e6)).min(1).max(1024).optional(),
  })
  .superRefine((d, ctx) => {
    const [x1, y1, x2, y2] = d.box;
    if (!(x1 < x2 && y1 < y2)) ctx.addIssue({ code: "custom", path: ["box"], message: "box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2" });
    const attrs = d.attrs ?? {};
    if (Object.keys(attrs).length > 16) ctx.addIssue({ code: "custom", path: ["attrs"], message: "at most 16 attributes" });
    for (const name of COLOUR_ATTRIBUTES) {
      const a = attrs[name];
      if (a && !(COLOURS as readonly string[]).includes(a.value)) {
        ctx.addIssue({ code: "custom", path: ["attrs", name, "value"], message: `${name} must be one of ${COLOURS.join(", ")}` });
      }
    }
  });
export type Detection = z.output<typeof Detection>;

export const MAX_DETECTIONS_PER_FRAME = 500;

export const DetectionFrame = z.strictObject({
  /** capture time of the frame, epoch ms or RFC 3339 */
  frame_ts: Timestamp,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  detections: z.array(Detection).max(MAX_DETECTIONS_PER_FRAME, `at most ${MAX_DETECTIONS_PER_FRAME} detections per frame`),
});
export type DetectionFrameIn = z.input<typeof DetectionFrame>;
export type DetectionFrame = z.output<typeof DetectionFrame>;

export const CameraStatus = z.strictObject({
  state: z.enum(["online", "offline"]),
  ts: Timestamp.optional(),
  fps: z.number().min(0).max(1000).optional(),
  width: z.number().int().positive().max(100_000).optional(),
  height: z.number().int().positive().max(100_000).optional(),
  uptime_s: z.number().min(0).optional(),
});
export type CameraStatus = z.output<typeof CameraStatus>;

/** JetStream de-duplication id of a frame (first de-duplication stage). */
export const frameMsgId = (camera: string, seq: number, frameTs: number) => `${camera}:f${seq}:${frameTs}`;
