/**
 * `footfall agent …` and `footfall agent detect …`: the camera agent's two processes, run at a
 * site beside a plain camera. `agent` cuts the camera's video into signed chunks, uploads and
 * announces them (video/agent/main.ts); `agent detect` runs the detection loop and publishes
 * DetectionFrames over MQTT (video/detect/main.ts). Their bodies are loaded on demand; commander
 * errors (unknown or missing options) exit 2 like the modules' own option checks.
 */
import type { Command, CommanderError } from "commander";
import type { AgentRawOptions } from "../../video/agent/agent-options.ts";
import { DEFAULT_UPLOAD_CONCURRENCY, MAX_UPLOAD_CONCURRENCY } from "../../video/agent/upload-limits.ts";
import { DEFAULT_SCORE } from "../../models/detector-defaults.ts";
import { DEFAULT_AGENT_THREADS, DEFAULT_STILL_EVERY_S, type DetectMainRawOptions } from "../../video/detect/detect-options.ts";
import { STILL_MAX_WIDTH } from "../../contracts/still.ts";

const usageExit = (e: CommanderError) => process.exit(e.exitCode === 0 ? 0 : 2);

/**
 * commander checks an ancestor's required options for its subcommands too (`agent detect` would
 * need `agent`'s --camera), so `agent` checks its own, with commander's message.
 */
function requireOptions(cmd: Command, ...names: string[]): void {
  for (const opt of cmd.options) {
    if (names.includes(opt.attributeName()) && cmd.getOptionValue(opt.attributeName()) === undefined) {
      cmd.error(`error: required option '${opt.flags}' not specified`);
    }
  }
}

/** `dataRoot`: FOOTFALL_DATA_DIR, read when a data folder is not given */
export function addAgentCommands(program: Command, dataRoot: () => string): void {
  const agent = program.command("agent")
    .description("the camera agent: cut a camera's video into signed chunks, upload and announce them (`agent detect`: its person detections)")
    // the options after `detect` are the subcommand's own (both have --camera, --source, ...)
    .enablePositionalOptions()
    .option("--camera <id>", "camera id (A-Z a-z 0-9 _ -), required")
    .option("--source <path|url>", "video file, or rtsp:// http:// tcp:// URL, required")
    .option("--data <dir>", "data folder (chunks, state) (default: $FOOTFALL_DATA_DIR/agent/{camera})")
    .option("--segment <s>", "chunk length in seconds (cut at the next keyframe)", "2")
    .option("--realtime", "read a file at its frame rate (-re), like a camera")
    .option("--loop", "loop a file forever (treated as a live source)")
    .option("--format <f>", "chunk container: mp4, mkv or ts", "mp4")
    .option("--secret-file <file>", "file holding the camera's device secret (else FOOTFALL_CAMERA_SECRET)")
    .option("--rtsp-transport <t>", "RTSP media over tcp (interleaved) or udp", "tcp")
    .option("--api <url>", "chunk store base URL, e.g. http://127.0.0.1:8080 (without it the agent only records)")
    .option("--mqtt <urls>", "MQTT broker URL for chunk announcements, e.g. mqtt://127.0.0.1:1883, or several separated by commas to fail over between (needs --api and --site)")
    .option("--site <id>", "the camera's site (MQTT topics)")
    .option("--upload-concurrency <n>", `uploads at once, 1..${MAX_UPLOAD_CONCURRENCY}`, String(DEFAULT_UPLOAD_CONCURRENCY))
    .option("--upload-grace <s>", "on SIGTERM, seconds in-flight uploads get to finish", "10")
    .option("--keep-mb <n>", "keep at most this many MB of uploaded chunks on disk, deleting the oldest (default: keep all)")
    .option("--ops-port <n>", "serve /healthz and /metrics on this port (0: any free port)")
    .option("--ops-host <host>", "address of the ops port", "127.0.0.1")
    .option("--ca <file>", "PEM CA the API's (https://) and broker's (mqtts://) certificates must verify against (default: FOOTFALL_TLS_CA, else the system's roots)")
    .exitOverride(usageExit)
    .action(async (o: AgentRawOptions, cmd: Command) => {
      requireOptions(cmd, "camera", "source");
      const { runCameraAgentProcess } = await import("../../video/agent/main.ts");
      process.exit(await runCameraAgentProcess(o, dataRoot));
    });

  agent.command("detect")
    .description("the camera agent's detections: sample frames, detect people and garment colours, publish them over MQTT (QoS 1)")
    .requiredOption("--camera <id>", "camera id (its MQTT username)")
    .requiredOption("--site <id>", "site of the camera")
    .requiredOption("--source <path|url>", "video file, or rtsp:// http:// ... URL")
    .option("--mqtt <urls>", "broker URL (mqtts:// for TLS), or several separated by commas to fail over between", "mqtt://127.0.0.1:1883")
    .option("--secret-file <file>", "file holding the camera's secret (else FOOTFALL_CAMERA_SECRET)")
    .option("--client-id <id>", "MQTT client id (default {camera}.detect)")
    .option("--fps <n>", "frames per second of source time (default 5)")
    .option("--every <n>", "every n-th source frame instead of --fps")
    .option("--realtime", "pace a file like a camera")
    .option("--loop", "loop a file forever")
    .option("--start-ms <ms>", "epoch ms of the source's pts 0 (default: now)")
    .option("--start <s>", "start s seconds into a file")
    .option("--duration <s>", "read s seconds of source time (per pass with --loop)")
    .option("--motion [fraction]", "motion gate: skip frames with less changed area (default 0.005)")
    .option("--max-skip <n>", "with --motion: look at least every n+1-th frame (default 10)")
    .option("--threads <n>", `ONNX Runtime intra-op threads (default ${DEFAULT_AGENT_THREADS}: the model on one core, the rest of the loop on another)`)
    .option("--score <n>", `detector score threshold (default ${DEFAULT_SCORE}: on the annotated vtest frames it keeps every person and no false positive; 0.35 finds more far-away people with more false positives)`)
    .option("--state <file>", "frame counter state file (seq continues across restarts; default: none, seq starts at 0)")
    .option("--max-in-flight <n>", "frames published but not yet acknowledged, at most (default 16)")
    .option("--status-every <s>", "seconds between status heartbeats (default 5)")
    .option("--still-every <s>", `seconds of frame time between stills (JPEG of the newest frame, at most ${STILL_MAX_WIDTH} px wide) for the wall; 0: none (default ${DEFAULT_STILL_EVERY_S})`)
    .option("--ops-port <n>", "serve /healthz and /metrics on this port (0: any free port)")
    .option("--ops-host <host>", "address of the ops port", "127.0.0.1")
    .option("--ca <file>", "PEM CA the broker's certificate (mqtts://) must verify against (default: FOOTFALL_TLS_CA, else the system's roots)")
    .exitOverride(usageExit)
    .action(async (o: DetectMainRawOptions) => {
      const { runDetectProcess } = await import("../../video/detect/main.ts");
      process.exit(await runDetectProcess(o));
    });
}
