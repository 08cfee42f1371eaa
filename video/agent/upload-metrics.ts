/**
 * Prometheus metrics of the camera agent's uploader (prom-client), read from the uploader's
 * counters and queue at scrape time:
 *
 *   footfall_camera_upload_chunks_total{result="stored|duplicate|failed"}
 *   footfall_camera_upload_retries_total            failed attempts that are tried again
 *   footfall_camera_upload_bytes_total              bytes of chunks the store accepted
 *   footfall_camera_upload_announced_total          chunk announcements acknowledged (MQTT PUBACK)
 *   footfall_camera_upload_queue_depth              chunks waiting for an upload slot
 *   footfall_camera_upload_in_flight                uploads holding a slot
 *   footfall_camera_upload_awaiting_announce        accepted chunks waiting for their PUBACK
 *   footfall_camera_chunks_recorded_total           chunks the agent recorded in this run
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { Uploader } from "./uploader.ts";

export interface CameraAgentMetrics {
  recorded: Counter;
}

/** Registers the metrics; `uploader` may be undefined (the agent only records). */
export function registerCameraAgentMetrics(registry: Registry, uploader: Uploader | undefined): CameraAgentMetrics {
  const registers = [registry];
  const recorded = new Counter({ name: "footfall_camera_chunks_recorded_total", help: "chunks the agent recorded in this run", registers });
  if (!uploader) return { recorded };
  const s = uploader.stats;
  new Counter({
    name: "footfall_camera_upload_chunks_total", help: "chunk uploads settled, by result (stored, duplicate, failed)", labelNames: ["result"], registers,
    collect() {
      this.reset();
      this.inc({ result: "stored" }, s.uploaded);
      this.inc({ result: "duplicate" }, s.duplicate);
      this.inc({ result: "failed" }, s.failed);
    },
  });
  const counter = (name: string, help: string, value: () => number) => new Counter({
    name, help, registers, collect() { this.reset(); this.inc(value()); },
  });
  counter("footfall_camera_upload_retries_total", "chunk upload attempts that failed and are tried again", () => s.retried);
  counter("footfall_camera_upload_bytes_total", "bytes of chunks the store accepted", () => s.bytes);
  counter("footfall_camera_upload_announced_total", "chunk announcements the MQTT broker acknowledged", () => s.announced);
  const gauge = (name: string, help: string, value: () => number) => new Gauge({
    name, help, registers, collect() { this.set(value()); },
  });
  gauge("footfall_camera_upload_queue_depth", "recorded chunks waiting for an upload slot", () => uploader.queued);
  gauge("footfall_camera_upload_in_flight", "chunk uploads holding a slot (sending or waiting to retry)", () => uploader.inFlight);
  gauge("footfall_camera_upload_awaiting_announce", "accepted chunks waiting for their announcement's PUBACK", () => uploader.awaitingAnnounce);
  return { recorded };
}
