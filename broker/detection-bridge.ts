import type { JetStreamClient } from "@nats-io/jetstream";
import { frameMsgId, type CameraStatus, type DetectionFrame } from "../contracts/detection.ts";
import type { DeviceRecord } from "../contracts/device.ts";
import { ActorKinds, actorSubject } from "../contracts/nats-layout.ts";
import { chunkMsgId, type CameraStatusMsg, type ChunkMsg, type FrameMsg } from "../contracts/track-messages.ts";
import type { ChunkMeta } from "../contracts/video.ts";
import { PublishTick } from "../infra/publish-tick.ts";
import { Semaphore } from "../infra/semaphore.ts";

/** Why this device may not publish camera messages, or undefined if it may. */
export function checkCameraDevice(device: DeviceRecord): string | undefined {
  return device.kind === "camera" ? undefined : `device ${device.id} is a ${device.kind}, not a camera: only cameras publish detections and camera status`;
}

/**
 * Forwards a camera's accepted frames into JetStream as FrameMsg on the camera actor's subject
 * (act.{p}.camera.{site}.{camera}), one message per frame (the per-frame batching the camera did
 * is kept end to end), with Nats-Msg-Id "{camera}:f{seq}:{frame_ts}": a re-sent frame is stored
 * once inside JetStream's duplicate window (first de-duplication stage; the camera actor is the
 * second). publishFrame resolves once JetStream stored the frame (true if it already had it).
 * Status heartbeats and last wills go the same way, without de-duplication. Chunk announcements
 * (publishChunk) too, de-duplicated by "{camera}:c{seq}".
 */
export class DetectionBridge {
  private readonly limit: Semaphore;
  private readonly tick = new PublishTick();

  constructor(private readonly js: JetStreamClient, private readonly opts: { partitions: number; maxInFlight?: number }) {
    this.limit = new Semaphore(opts.maxInFlight ?? 256);
  }

  get inFlight(): number { return this.limit.inFlight; }

  publishFrame(device: DeviceRecord, frame: DetectionFrame, receivedAt: number): Promise<boolean> {
    const msg: FrameMsg = {
      type: "frame",
      site: device.site,
      camera: device.id,
      seq: frame.seq,
      frameTs: frame.frame_ts,
      receivedAt: Math.floor(receivedAt),
      detections: frame.detections,
    };
    return this.limit.run(async () => {
      await this.tick.next();
      const ack = await this.js.publish(this.subject(device), JSON.stringify(msg), { msgID: frameMsgId(device.id, frame.seq, frame.frame_ts) });
      return ack.duplicate;
    });
  }

  publishStatus(device: DeviceRecord, status: CameraStatus, receivedAt: number): Promise<void> {
    const now = Math.floor(receivedAt);
    const msg: CameraStatusMsg = {
      type: "camera-status",
      site: device.site,
      camera: device.id,
      state: status.state,
      ts: status.ts ?? now,
      ...(status.fps === undefined ? {} : { fps: status.fps }),
      ...(status.width === undefined ? {} : { width: status.width }),
      ...(status.height === undefined ? {} : { height: status.height }),
      ...(status.uptime_s === undefined ? {} : { uptime_s: status.uptime_s }),
      receivedAt: now,
    };
    return this.limit.run(async () => {
      await this.tick.next();
      await this.js.publish(this.subject(device), JSON.stringify(msg));
    });
  }

  /** Stores a chunk announcement; resolves once JetStream has it (true if it already had it). */
  publishChunk(device: DeviceRecord, meta: ChunkMeta, receivedAt: number): Promise<boolean> {
    const msg: ChunkMsg = {
      type: "chunk", site: device.site, camera: device.id, seq: meta.seq, start_ms: meta.start_ms, end_ms: meta.end_ms,
      duration_s: meta.duration_s, frames: meta.frames, bytes: meta.bytes, width: meta.width, height: meta.height,
      gap_before_ms: meta.gap_before_ms, receivedAt: Math.floor(receivedAt),
    };
    return this.limit.run(async () => {
      await this.tick.next();
      const ack = await this.js.publish(this.subject(device), JSON.stringify(msg), { msgID: chunkMsgId(device.id, meta.seq) });
      return ack.duplicate;
    });
  }

  private subject(device: DeviceRecord): string {
    return actorSubject(ActorKinds.camera, `${device.site}.${device.id}`, this.opts.partitions);
  }
}
