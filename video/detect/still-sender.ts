/**
 * The camera agent's stills: every `everyMs` of frame time, the newest decoded frame (the RGB the
 * detection loop already has, video/detect/detect-loop.ts) becomes a JPEG of at most
 * STILL_MAX_WIDTH px wide, made by one short ffmpeg run (rawvideo on stdin, mjpeg on stdout),
 * and goes out on the camera's still topic (contracts/still.ts) with the frame's time and size.
 * The broker keeps the newest per camera for the wall's camera tile.
 *
 * At most one still is being made or awaits its PUBACK at a time; frames offered meanwhile are
 * passed over (the next due frame after it is taken), and none is made while the uplink is not
 * connected (a still is only worth anything while it is new). A JPEG above STILL_MAX_BYTES is made
 * again at a lower quality before the still is given up.
 */
import { spawn } from "node:child_process";
import type { Logger } from "pino";
import { STILL_MAX_BYTES, STILL_MAX_WIDTH, type StillHeader } from "../../contracts/still.ts";
import { ffmpegPath } from "../chunk/ffmpeg-tools.ts";

/** The part of CameraUplink the sender uses. */
export interface StillUplink {
  publishStill(header: StillHeader, jpeg: Uint8Array): Promise<void>;
  readonly online: boolean;
}

export interface StillFrame {
  /** width×height×3 bytes, RGB24 */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface StillSenderOptions {
  uplink: StillUplink;
  /** frame time between stills (ms) */
  everyMs: number;
  /** widest JPEG (default STILL_MAX_WIDTH) */
  maxWidth?: number;
  /** ffmpeg's JPEG quality scale, 2 (best) .. 31 (default 5) */
  quality?: number;
  log?: Logger;
}

export interface StillCounters {
  /** stills the broker acknowledged (stored) */
  acked: number;
  /** stills not made or not acknowledged (ffmpeg failed, too large, connection lost) */
  failed: number;
}

/** Qualities tried after the first when a JPEG comes out above STILL_MAX_BYTES. */
const FALLBACK_QUALITIES = [12, 24];

export class StillSender {
  readonly counters: StillCounters = { acked: 0, failed: 0 };
  private lastTs = Number.NEGATIVE_INFINITY;
  private current: Promise<void> | undefined;

  constructor(private readonly o: StillSenderOptions) {
    if (!(o.everyMs > 0)) throw new RangeError(`everyMs must be > 0, got ${o.everyMs}`);
  }

  /** A still being made or awaiting its PUBACK. */
  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Offers the frame shown at frame time `ts`; it becomes a still when one is due and none is under way. */
  offer(frame: StillFrame, ts: number): void {
    if (this.current || ts - this.lastTs < this.o.everyMs || !this.o.uplink.online) return;
    this.lastTs = ts;
    const p = this.send(frame, ts).finally(() => { if (this.current === p) this.current = undefined; });
    this.current = p;
  }

  /** Waits for the still under way, at most `timeoutMs`; true when none is left. */
  async drain(timeoutMs: number): Promise<boolean> {
    const p = this.current;
    if (!p) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([p.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); })]);
    clearTimeout(timer);
    return ok;
  }

  private async send(frame: StillFrame, ts: number): Promise<void> {
    try {
      const jpeg = await this.jpegOf(frame);
      if (!jpeg) {
        this.counters.failed++;
        this.o.log?.warn({ ts, width: frame.width, height: frame.height }, `still above ${STILL_MAX_BYTES} bytes even at the lowest quality: not sent`);
        return;
      }
      await this.o.uplink.publishStill({ ts, width: frame.width, height: frame.height }, jpeg);
      this.counters.acked++;
    } catch (err) {
      this.counters.failed++;
      this.o.log?.warn({ err, ts }, "still not sent");
    }
  }

  private async jpegOf(frame: StillFrame): Promise<Buffer | undefined> {
    for (const q of [this.o.quality ?? 5, ...FALLBACK_QUALITIES]) {
      const jpeg = await encodeJpeg(frame, { maxWidth: this.o.maxWidth ?? STILL_MAX_WIDTH, quality: q });
      if (jpeg.length <= STILL_MAX_BYTES) return jpeg;
    }
    return undefined;
  }
}

/** The size a frame is scaled to: at most maxWidth wide, aspect kept, even sides (for 4:2:0 chroma). */
export function stillSize(width: number, height: number, maxWidth: number): { width: number; height: number } {
  const even = (v: number) => Math.max(2, Math.floor(v / 2) * 2);
  const w = even(Math.min(width, maxWidth));
  return { width: w, height: even((height * w) / width) };
}

/** One RGB24 frame as a JPEG (ffmpeg's mjpeg encoder), scaled to at most maxWidth px wide. */
export function encodeJpeg(frame: StillFrame, o: { maxWidth: number; quality: number }): Promise<Buffer> {
  const size = stillSize(frame.width, frame.height, o.maxWidth);
  const args = [
    "-hide_banner", "-nostats", "-loglevel", "error",
    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${frame.width}x${frame.height}`, "-i", "pipe:0",
    "-frames:v", "1", "-vf", `scale=${size.width}:${size.height}`, "-q:v", String(o.quality),
    "-f", "mjpeg", "pipe:1",
  ];
  return new Promise((resolve, reject) => {
    const proc = spawn(ffmpegPath(), args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    proc.stdout.on("data", (b: Buffer) => out.push(b));
    proc.stderr.on("data", (b: Buffer) => { err = (err + b.toString("utf8")).slice(-2000); });
    proc.stdin.on("error", () => {}); // ffmpeg exited early: its exit code says why
    proc.once("error", reject);
    proc.once("close", (code) => {
      if (code === 0 && out.length > 0) resolve(Buffer.concat(out));
      else reject(new Error(`ffmpeg could not make a JPEG (exit ${code}): ${err.trim().split("\n").slice(-2).join(" ")}`));
    });
    proc.stdin.end(frame.rgb);
  });
}
