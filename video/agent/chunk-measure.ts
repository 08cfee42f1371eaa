/**
 * Measures chunks (exact duration, frames, resolution, codec) for one agent run: from the
 * chunk's packet log written by the segmenting ffmpeg (packet-log.ts: no extra process), or
 * with ffprobe of the chunk file (chunk-probe.ts) when there is no usable packet log.
 *
 * The first chunk measured from a packet log in a run is also probed with ffprobe and the two
 * must agree (same frames, codec and size, durations within 1 ms — a container may round
 * timestamps to the millisecond, e.g. Matroska): then the run's chunks get the packet logs'
 * measures; if they do not agree (that chunk gets ffprobe's), or a log cannot be read, the rest
 * of the run is measured with ffprobe. Chunks measured while that check runs wait for it.
 */
import type { Logger } from "pino";
import { probeChunk, type ChunkProbe } from "../chunk/chunk-probe.ts";
import type { Limit } from "../../infra/semaphore.ts";
import { readPacketLog } from "./packet-log.ts";

export type MeasuredBy = "packet-log" | "ffprobe";

export interface ChunkMeasure {
  probe: ChunkProbe;
  by: MeasuredBy;
}

/** Largest difference (s) between a packet log's duration and ffprobe's for the same chunk. */
export const DURATION_TOLERANCE_S = 0.001;

/** Why a packet log's measures differ from ffprobe's, or undefined when they agree. */
export function disagreement(fromLog: ChunkProbe, probed: ChunkProbe): string | undefined {
  if (fromLog.frames !== probed.frames) return `frames ${fromLog.frames} vs ${probed.frames}`;
  if (fromLog.codec !== probed.codec) return `codec ${fromLog.codec} vs ${probed.codec}`;
  if (fromLog.width !== probed.width || fromLog.height !== probed.height) {
    return `size ${fromLog.width}x${fromLog.height} vs ${probed.width}x${probed.height}`;
  }
  const d = Math.abs(fromLog.duration_s - probed.duration_s);
  if (d > DURATION_TOLERANCE_S) return `duration ${fromLog.duration_s} vs ${probed.duration_s} s`;
  return undefined;
}

export class ChunkMeasurer {
  /** the run's check of a packet log against ffprobe: resolves true when they agreed */
  private check: Promise<boolean> | undefined;
  private distrusted = false;
  readonly counts: Record<MeasuredBy, number> = { "packet-log": 0, ffprobe: 0 };

  private readonly log: Logger | undefined;
  private readonly limit: Limit;

  /** `limit` bounds the ffprobe processes running at once (default: unbounded) */
  constructor(opts: { log?: Logger; limit?: Limit } = {}) {
    this.log = opts.log;
    this.limit = opts.limit ?? ((fn) => fn());
  }

  private async probe(file: string): Promise<ChunkMeasure> {
    const probe = await this.limit(() => probeChunk(file));
    this.counts.ffprobe++;
    return { probe, by: "ffprobe" };
  }

  /** Measures the chunk `file`, from `packetLog` when given and trusted. */
  async measure(file: string, packetLog?: string): Promise<ChunkMeasure> {
    if (!packetLog || this.distrusted) return this.probe(file);
    let fromLog: ChunkProbe;
    try {
      fromLog = await readPacketLog(packetLog);
    } catch (err) {
      this.distrusted = true;
      this.log?.warn({ err, packetLog }, "unreadable packet log: chunks measured with ffprobe from here on");
      return this.probe(file);
    }
    if (!this.check) {
      const probed = this.limit(() => probeChunk(file));
      this.check = probed.then((p) => {
        const why = disagreement(fromLog, p);
        if (why) this.log?.warn({ file, why }, "packet log disagrees with ffprobe: chunks measured with ffprobe from here on");
        else this.log?.debug({ file, frames: p.frames, duration_s: p.duration_s }, "packet log agrees with ffprobe");
        return why === undefined;
      }, () => false);
      if (!(await this.check)) {
        this.distrusted = true;
        const probe = await probed; // ffprobe's error, if it failed
        this.counts.ffprobe++;
        return { probe, by: "ffprobe" };
      }
    } else if (!(await this.check)) {
      this.distrusted = true;
      return this.probe(file);
    }
    this.counts["packet-log"]++;
    return { probe: fromLog, by: "packet-log" };
  }
}
