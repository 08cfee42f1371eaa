/**
 * The camera agent as a process: cuts a camera's video source into signed chunks in a data folder
 * and resumes where it stopped after a restart. Stops cleanly on SIGINT / SIGTERM.
 *
 *   npx tsx camera-agent/main.ts --camera cam-1 --source rtsp://10.0.0.5/stream --data .data/camera-agent/cam-1
 *   npx tsx camera-agent/main.ts --camera cam-1 --source clip.mp4 --realtime --loop --segment 2
 *
 * The camera's signing key comes from FOOTFALL_CAMERA_KEY or --key-file (raw bytes of the file,
 * trailing newline removed). Each recorded chunk is logged (info) with its metadata.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { createLogger } from "../infra/log.ts";
import { runCameraAgent } from "./agent.ts";
import type { ChunkFormat, VideoSource } from "./segmenter.ts";

const opts = new Command()
  .requiredOption("--camera <id>", "camera id (A-Z a-z 0-9 _ -)")
  .requiredOption("--source <path|url>", "video file, or rtsp:// http:// tcp:// URL")
  .option("--data <dir>", "data folder (chunks, state)", ".data/camera-agent")
  .option("--segment <s>", "chunk length in seconds (cut at the next keyframe)", "2")
  .option("--realtime", "read a file at its frame rate (-re), like a camera")
  .option("--loop", "loop a file forever (treated as a live source)")
  .option("--format <f>", "chunk container: mp4, mkv or ts", "mp4")
  .option("--key-file <file>", "file holding the camera's HMAC key (else FOOTFALL_CAMERA_KEY)")
  .option("--rtsp-transport <t>", "RTSP media over tcp (interleaved) or udp", "tcp")
  .parse()
  .opts<{ camera: string; source: string; data: string; segment: string; realtime?: boolean; loop?: boolean; format: string; keyFile?: string; rtspTransport: string }>();

const log = createLogger("camera-agent");
const key = opts.keyFile ? readFileSync(opts.keyFile).toString("utf8").replace(/\r?\n$/, "") : process.env.FOOTFALL_CAMERA_KEY;
if (!key) {
  log.error("no camera key: set FOOTFALL_CAMERA_KEY or --key-file");
  process.exit(2);
}
if (opts.rtspTransport !== "tcp" && opts.rtspTransport !== "udp") {
  log.error({ rtspTransport: opts.rtspTransport }, "--rtsp-transport must be tcp or udp");
  process.exit(2);
}
const source: VideoSource = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.source)
  ? { kind: "url", url: opts.source, rtspTransport: opts.rtspTransport }
  : { kind: "file", path: opts.source, pace: opts.realtime ? "realtime" : "fast", loop: !!opts.loop };

const ac = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());

const res = await runCameraAgent({
  camera: opts.camera, key, source, dataDir: opts.data, segmentSeconds: Number(opts.segment),
  format: opts.format as ChunkFormat, signal: ac.signal, log,
  onChunk: (meta) => log.info({ chunk: meta }, "chunk recorded"),
});
log.info({ reason: res.reason, chunks: res.chunks.length, dropped: res.dropped, next_seq: res.state?.next_seq }, "camera agent stopped");
process.exit(res.reason === "failed" ? 1 : 0);
