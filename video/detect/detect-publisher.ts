/**
 * Publishes the detection loop's frames through the camera's MQTT uplink
 * (video/agent/camera-uplink.ts: QoS 1, resolves on PUBACK) with a bounded number of frames in
 * flight: `publish` returns once the frame is handed to the connection and fewer than
 * `maxInFlight` frames await their PUBACK, so a slow or absent broker slows the loop down instead
 * of piling frames up in memory. QoS 1 keeps the frames in order; while the connection is down
 * mqtt.js holds the unacknowledged ones and re-sends them after reconnecting (clean: false).
 *
 * `drain(ms)` waits (bounded) for every frame in flight, for a clean stop.
 */
import type { Logger } from "pino";
import type { DetectionFrame } from "../../contracts/detection.ts";

/** The part of CameraUplink the publisher uses. */
export interface FrameUplink {
  publishFrame(payload: string | Buffer): Promise<void>;
}

export interface PublisherCounters {
  /** frames handed to the connection */
  sent: number;
  /** frames the broker acknowledged */
  acked: number;
  /** frames whose publish failed (connection stopped before the PUBACK) */
  failed: number;
}

export class FramePublisher {
  readonly counters: PublisherCounters = { sent: 0, acked: 0, failed: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  private waiters: Array<() => void> = [];

  constructor(private readonly uplink: FrameUplink, readonly maxInFlight = 16, private readonly log?: Logger) {
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new Error(`maxInFlight must be an integer ≥ 1, got ${maxInFlight}`);
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /**
   * Hands the frame to the connection; resolves when there is room for the next one. Resolves
   * false without publishing when `signal` aborts while it waits for room (a stop while the
   * broker is unreachable must not wait for it forever).
   */
  async publish(frame: DetectionFrame, signal?: AbortSignal): Promise<boolean> {
    while (this.inFlight.size >= this.maxInFlight) {
      if (signal?.aborted) return false;
      await new Promise<void>((r) => {
        const wake = () => { signal?.removeEventListener("abort", wake); r(); };
        this.waiters.push(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
    const p: Promise<void> = this.uplink.publishFrame(JSON.stringify(frame)).then(
      () => { this.counters.acked++; },
      (err: Error) => {
        this.counters.failed++;
        this.log?.warn({ seq: frame.seq, err: err.message }, "frame not acknowledged");
      },
    ).finally(() => {
      this.inFlight.delete(p);
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    });
    this.inFlight.add(p);
    this.counters.sent++;
    return true;
  }

  /** Waits for every frame in flight, at most `timeoutMs`; true when none is left. */
  async drain(timeoutMs: number): Promise<boolean> {
    const all = Promise.all([...this.inFlight]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
    const ok = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return ok && this.inFlight.size === 0;
  }
}
