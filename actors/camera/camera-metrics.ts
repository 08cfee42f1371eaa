import { register as defaultRegistry, type Counter, type Registry } from "prom-client";
import { counter } from "../../infra/metrics.ts";

/** The camera actors' Prometheus counters (summed over cameras; per-camera figures are in camera_stats). */
export interface CameraMetrics {
  /** frames tracked */
  frames: Counter;
  /** frames that came after their place in the order had passed: not tracked */
  lateFrames: Counter;
  /** frames received again (same seq and frame_ts) */
  duplicateFrames: Counter;
  /** person detections dropped because their oid was seen before (second de-duplication stage) */
  duplicateDetections: Counter;
  /** person detections tracked */
  detections: Counter;
  /** frames tracked without floor positions because the camera has no calibration (yet) */
  framesWithoutGeometry: Counter;
  tracksConfirmed: Counter;
  tracksEnded: Counter;
}

/** The counters in `registry` (created once per registry, shared by every camera actor of a host). */
export function cameraMetrics(registry: Registry = defaultRegistry): CameraMetrics {
  return {
    frames: counter(registry, "footfall_camera_frames_total", "Camera frames tracked"),
    lateFrames: counter(registry, "footfall_camera_late_frames_total", "Camera frames that arrived after their place in the order had passed (not tracked)"),
    duplicateFrames: counter(registry, "footfall_camera_duplicate_frames_total", "Camera frames received again (same seq and frame_ts), ignored"),
    duplicateDetections: counter(registry, "footfall_camera_duplicate_detections_total", "Person detections whose oid was seen before, dropped"),
    detections: counter(registry, "footfall_camera_detections_total", "Person detections tracked"),
    framesWithoutGeometry: counter(registry, "footfall_camera_frames_without_geometry_total", "Frames tracked without floor positions: the camera has no calibration in the topology"),
    tracksConfirmed: counter(registry, "footfall_camera_tracks_confirmed_total", "Camera tracklets confirmed"),
    tracksEnded: counter(registry, "footfall_camera_tracks_ended_total", "Confirmed camera tracklets ended (lost for longer than lostMs)"),
  };
}
