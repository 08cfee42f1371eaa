import { CameraStatus, DetectionFrame } from "../contracts/detection.ts";
import { ChunkMeta } from "../contracts/video.ts";
import { describeIssues } from "../infra/zod-issues.ts";
import { readJson, type PayloadReading } from "./crossing-payload.ts";

/** A camera's detections payload (one processed frame), validated against the camera event contract. */
export function readDetectionFrame(payload: Buffer | string, maxBytes: number): PayloadReading<DetectionFrame> {
  const json = readJson(payload, maxBytes);
  if (!json.ok) return json;
  const parsed = DetectionFrame.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: "invalid_payload", detail: describeIssues(parsed.error) };
  const seen = new Set<string>();
  for (const d of parsed.data.detections) {
    if (seen.has(d.oid)) return { ok: false, reason: "invalid_payload", detail: `oid ${d.oid} appears more than once in the frame` };
    seen.add(d.oid);
  }
  return { ok: true, value: parsed.data };
}

/** A camera's status heartbeat or last will. */
export function readCameraStatus(payload: Buffer | string, maxBytes: number): PayloadReading<CameraStatus> {
  const json = readJson(payload, maxBytes);
  if (!json.ok) return json;
  const parsed = CameraStatus.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: "invalid_payload", detail: describeIssues(parsed.error) };
  return { ok: true, value: parsed.data };
}

/** A camera agent's announcement of a stored video chunk (its signed record). */
export function readChunkAnnouncement(payload: Buffer | string, maxBytes: number): PayloadReading<ChunkMeta> {
  const json = readJson(payload, maxBytes);
  if (!json.ok) return json;
  const parsed = ChunkMeta.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: "invalid_payload", detail: describeIssues(parsed.error) };
  return { ok: true, value: parsed.data };
}
