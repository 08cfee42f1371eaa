/**
 * Prometheus metrics of the detection process (video/detect/main.ts), read from the loop's
 * DetectStats and the frame publisher when /metrics is scraped (nothing is counted twice).
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { STAGES, type DetectStats } from "./detect-stats.ts";
import type { FramePublisher } from "./detect-publisher.ts";
import type { StillSender } from "./still-sender.ts";

export function registerDetectMetrics(registry: Registry, stats: DetectStats, publisher: FramePublisher, stills?: StillSender): void {
  const registers = [registry];
  if (stills) {
    new Counter({
      name: "footfall_camera_detect_stills_total", help: "stills (JPEG of the newest frame) by outcome: acked (stored by the broker), failed",
      labelNames: ["outcome"], registers,
      collect() {
        this.reset();
        this.inc({ outcome: "acked" }, stills.counters.acked);
        this.inc({ outcome: "failed" }, stills.counters.failed);
      },
    });
  }
  new Counter({
    name: "footfall_camera_detect_frames_total",
    help: "frames by outcome: sampled (decoded), processed (ran the detector), held (motion gate)",
    labelNames: ["outcome"], registers,
    collect() {
      this.reset();
      this.inc({ outcome: "sampled" }, stats.sampled);
      this.inc({ outcome: "processed" }, stats.processed);
      this.inc({ outcome: "held" }, stats.held);
    },
  });
  new Counter({
    name: "footfall_camera_detect_detections_total", help: "person detections published", registers,
    collect() { this.reset(); this.inc(stats.detections); },
  });
  new Counter({
    name: "footfall_camera_detect_stage_seconds_total", help: "time spent per stage of the detection loop",
    labelNames: ["stage"], registers,
    collect() {
      this.reset();
      for (const s of STAGES) this.inc({ stage: s }, stats.ms[s] / 1000);
    },
  });
  new Counter({
    name: "footfall_camera_detect_published_total", help: "frames published over MQTT by outcome (acked by the broker, failed)",
    labelNames: ["outcome"], registers,
    collect() {
      this.reset();
      this.inc({ outcome: "acked" }, publisher.counters.acked);
      this.inc({ outcome: "failed" }, publisher.counters.failed);
    },
  });
  new Gauge({
    name: "footfall_camera_detect_in_flight", help: "frames published and not yet acknowledged", registers,
    collect() { this.set(publisher.pending); },
  });
}
