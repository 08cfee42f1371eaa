/**
 * The video part of `footfall up --demo`: the real camera agent on real footage. opencv-doc's
 * vtest.avi (extracted by infra/setup.sh; MS-MPEG4, which no camera sends, so it is re-encoded
 * once to H.264 with a 2-s GOP, like a camera's stream) plays as a live camera (paced in real
 * time, looped) of site `plaza`:
 *   footfall agent         cuts 4-s chunks, uploads them to the chunk store, announces them
 *   footfall agent detect  detects people at 5 fps (motion gate on), publishes over MQTT
 * Both are supervised child processes (restarted if they die, stopped with SIGTERM). Their data
 * and the camera's secret live under {dataDir}; at most 200 MB of uploaded chunks stay there.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateSecret } from "../topology/devices/device-secret.ts";
import { ffmpegPath } from "../video/chunk/ffmpeg-tools.ts";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/log.ts";
import { mqttUrlFor, ownClientTlsOf } from "../infra/tls.ts";
import { Supervised } from "../infra/stack/supervisor.ts";
import { plazaTopology } from "./vtest-plaza.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PLAZA_SITE = "plaza";
export const PLAZA_CAMERA = "cam-plaza";
/** ops ports of the two agent processes (/healthz, /metrics) */
const AGENT_OPS_PORT = 9103;
const DETECT_OPS_PORT = 9104;

/** vtest.avi as H.264 in mp4 (made once, kept in dataDir) */
async function cameraFootage(vtest: string, dataDir: string): Promise<string> {
  const out = path.join(dataDir, "vtest-h264.mp4");
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${out}.tmp.mp4`;
  await promisify(execFile)(ffmpegPath(), [
    "-hide_banner", "-loglevel", "error", "-y", "-i", vtest, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
    "-g", "20", "-pix_fmt", "yuv420p", "-movflags", "+faststart", tmp,
  ]);
  fs.renameSync(tmp, out);
  return out;
}

function plazaSecret(dataDir: string): string {
  const file = path.join(dataDir, `${PLAZA_CAMERA}.secret`);
  try {
    const s = fs.readFileSync(file, "utf8").trim();
    if (s.length >= 8) return s;
  } catch { /* made below */ }
  const s = generateSecret();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, s + "\n", { mode: 0o600 });
  return s;
}

export async function startVideoDemo(cfg: Config, o: { apiUrl: string; dataDir: string; log: Logger; viewerKey: string }): Promise<{ stop(): Promise<void>; banner: string[] }> {
  const log = o.log.child({ component: "video-demo" });
  const vtest = path.join(ROOT, ".footfall", "media", "vtest.avi");
  if (!fs.existsSync(vtest)) {
    log.warn({ vtest }, "no vtest.avi: the video demo is skipped (infra/setup.sh extracts it from Debian's opencv-doc)");
    return { stop: async () => {}, banner: [`  Video:      skipped, ${vtest} is missing (run infra/setup.sh)`] };
  }
  const secret = plazaSecret(o.dataDir);
  const secretFile = path.join(o.dataDir, `${PLAZA_CAMERA}.secret`);
  const r = await fetch(`${o.apiUrl}/api/v1/sites/${PLAZA_SITE}/topology`, {
    method: "PUT",
    headers: { authorization: `Bearer ${cfg.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(plazaTopology(PLAZA_CAMERA, secret)),
  });
  if (r.status !== 200) throw new Error(`could not register the plaza: HTTP ${r.status} ${(await r.text()).slice(0, 300)}`);
  await new Promise((res) => setTimeout(res, 1000)); // the broker's registry follows KV

  const host = ["0.0.0.0", "::", ""].includes(cfg.bind) ? "127.0.0.1" : cfg.bind;
  const mqtt = mqttUrlFor(cfg, host);
  // the camera agent's processes verify the API's and broker's certificate against the same CA
  const tls = ownClientTlsOf(cfg);
  const ca = tls ? ["--ca", tls.caFile] : [];
  const env = { ...process.env, FOOTFALL_LOG_LEVEL: cfg.logLevel };
  const source = ["--source", await cameraFootage(vtest, o.dataDir), "--realtime", "--loop"];
  const agent = new Supervised("camera-agent", [
    "agent", "--camera", PLAZA_CAMERA, ...source, "--data", path.join(o.dataDir, "camera-agent", PLAZA_CAMERA), "--segment", "4",
    "--api", o.apiUrl, "--mqtt", mqtt, "--site", PLAZA_SITE, "--secret-file", secretFile, "--keep-mb", "200",
    "--ops-port", String(AGENT_OPS_PORT), ...ca,
  ], env, log);
  const detect = new Supervised("camera-detect", [
    "agent", "detect", "--camera", PLAZA_CAMERA, "--site", PLAZA_SITE, "--mqtt", mqtt, ...source, "--secret-file", secretFile,
    "--motion", "--threads", "1", "--state", path.join(o.dataDir, `${PLAZA_CAMERA}.detect.json`),
    "--ops-port", String(DETECT_OPS_PORT), ...ca,
  ], env, log);
  agent.start();
  detect.start();

  const auth = `${tls ? `--cacert ${tls.caFile} ` : ""}-H 'Authorization: Bearer ${o.viewerKey}'`;
  return {
    banner: [
      `  Video:      site ${PLAZA_SITE}: camera ${PLAZA_CAMERA} plays opencv-doc's vtest.avi in real time through the camera agent`,
      `              (4-s chunks into the chunk store, people detected at 5 fps; ops http://${host}:${AGENT_OPS_PORT}/metrics, http://${host}:${DETECT_OPS_PORT}/metrics)`,
      `  try:        curl ${auth} '${o.apiUrl}/api/v1/paths?site=${PLAZA_SITE}&limit=5'`,
      `              curl ${auth} "${o.apiUrl}/api/v1/cameras/${PLAZA_CAMERA}/chunks?from=$(($(date +%s%3N)-60000))"`,
      `              curl ${auth} "${o.apiUrl}/api/v1/cameras/${PLAZA_CAMERA}/clip?from=$(($(date +%s%3N)-40000))&to=$(($(date +%s%3N)-10000))&quality=sd" -o clip.mp4`,
      `              curl ${auth} ${o.apiUrl}/api/v1/sites/${PLAZA_SITE}/cameras/${PLAZA_CAMERA}/still -o still.jpg   # its newest picture`,
    ],
    async stop() {
      await Promise.all([detect.stop(), agent.stop()]);
    },
  };
}
