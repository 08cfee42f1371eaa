/**
 * The detection process's /healthz tells the truth (real `footfall agent detect` processes, the
 * real detector, real MQTT over TCP): 503 with the reason while its MQTT uplink is not connected,
 * 200 once a broker listens on that port; 503 once the detection loop has stopped while the
 * process is still up (its last frames waiting for PUBACKs the broker holds back). States are
 * polled for, never timed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.ts";
import { eventually } from "../../support/retry.ts";
import { startAgentProcess, type AgentProcess } from "../agent-cli.ts";
import { startChunkBroker, type ChunkBroker } from "../agent/upload-broker.ts";
import { makeTestSource } from "../media.ts";

const CAM = "cam-detect-health";
const SECRET = "detect-health-secret";
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-detect-health-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 3 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

type Health = { status: number; body: Record<string, unknown> };

/** polls /healthz until `want` holds; returns that answer */
async function healthUntil(p: AgentProcess, what: string, want: (h: Health) => boolean): Promise<Health> {
  let seen: Health | undefined;
  await eventually(what, async () => {
    seen = await p.health();
    return want(seen);
  }, 90_000, 50);
  return seen!;
}

const detectArgs = (mqttPort: number, ...more: string[]) => [
  "detect", "--camera", CAM, "--site", "s1", "--mqtt", `mqtt://127.0.0.1:${mqttPort}`, "--source", src,
  "--threads", "1", "--ops-port", "0", ...more,
];

describe("detection process /healthz", () => {
  it("503 while the MQTT uplink is disconnected, 200 once a broker listens", async () => {
    const mqttPort = await freePort(); // nothing listens here yet
    const p = startAgentProcess(detectArgs(mqttPort, "--realtime", "--loop"), { FOOTFALL_CAMERA_SECRET: SECRET });
    let broker: ChunkBroker | undefined;
    try {
      const down = await healthUntil(p, "healthz answering", () => true);
      expect(down.status, p.output()).toBe(503);
      expect(down.body).toMatchObject({ ok: false, camera: CAM, running: true, mqtt: "disconnected", reasons: ["MQTT uplink disconnected"] });

      broker = await startChunkBroker({ [CAM]: SECRET }, () => undefined, mqttPort);
      const up = await healthUntil(p, "healthz 200 once the broker listens", (h) => h.status === 200);
      expect(up.body).toMatchObject({ ok: true, camera: CAM, running: true, mqtt: "connected" });
      expect(up.body.reasons).toBeUndefined();
      await eventually("frames reaching the broker", () => broker!.frames.length > 0);
      p.child.kill("SIGTERM");
      expect(await p.exited, p.output()).toBe(0);
    } finally {
      p.child.kill("SIGKILL");
      await broker?.close();
    }
  });

  it("503 once the detection loop has stopped while the process is still up", async () => {
    const mqttPort = await freePort();
    const broker = await startChunkBroker({ [CAM]: SECRET }, () => undefined, mqttPort);
    const release = broker.holdFrames();
    // 1 s at 5 fps: 5 frames, fewer than --max-in-flight, so the loop ends with all of them unacknowledged
    const p = startAgentProcess(detectArgs(mqttPort, "--duration", "1", "--fps", "5"), { FOOTFALL_CAMERA_SECRET: SECRET });
    try {
      const stopped = await healthUntil(p, "the loop stopped", (h) => h.body.running === false);
      expect(stopped.status, p.output()).toBe(503);
      expect(stopped.body).toMatchObject({ ok: false, camera: CAM, running: false, mqtt: "connected", reasons: ["detection loop stopped (end)"] });
      expect(p.child.exitCode).toBeNull();
      release();
      expect(await p.exited, p.output()).toBe(0);
      expect(p.lines().find((l) => l.msg === "detection stopped")).toMatchObject({ reason: "end", sampled: 5, failed: 0 });
    } finally {
      p.child.kill("SIGKILL");
      await broker.close();
    }
  });
});
