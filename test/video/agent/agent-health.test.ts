/**
 * The camera agent's /healthz tells the truth (real `footfall agent` processes, real MQTT over
 * TCP): 503 with the reason while its MQTT uplink is configured and not connected, 200 once a
 * broker listens on that port; 503 once recording has stopped while the process is still up
 * (a file source ended, its uploads still waiting for an unreachable chunk store). States are
 * polled for, never timed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.ts";
import { eventually } from "../../support/retry.ts";
import { startAgentProcess, type AgentProcess } from "../agent-cli.ts";
import { makeTestSource } from "../media.ts";
import { startChunkBroker, type ChunkBroker } from "./upload-broker.ts";

const CAM = "cam-health";
const SECRET = "health-secret-7a1f";
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-agent-health-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 3 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

/** polls /healthz until `want` holds; returns that answer */
async function healthUntil(agent: AgentProcess, what: string, want: (h: { status: number; body: Record<string, unknown> }) => boolean) {
  let seen: { status: number; body: Record<string, unknown> } | undefined;
  await eventually(what, async () => {
    seen = await agent.health();
    return want(seen);
  }, 60_000, 100);
  return seen!;
}

describe("camera agent /healthz", () => {
  it("503 while the MQTT uplink is disconnected, 200 once a broker listens", async () => {
    const mqttPort = await freePort(); // nothing listens here yet
    const deadApi = `http://127.0.0.1:${await freePort()}`;
    const agent = startAgentProcess([
      "--camera", CAM, "--source", src, "--realtime", "--loop", "--segment", "1", "--data", path.join(tmp, "data-mqtt"),
      "--api", deadApi, "--mqtt", `mqtt://127.0.0.1:${mqttPort}`, "--site", "s1", "--upload-grace", "0", "--ops-port", "0",
    ], { FOOTFALL_CAMERA_SECRET: SECRET });
    let broker: ChunkBroker | undefined;
    try {
      const down = await healthUntil(agent, "healthz answering", () => true);
      expect(down.status, agent.output()).toBe(503);
      expect(down.body).toMatchObject({ ok: false, camera: CAM, recording: true, mqtt: "disconnected", reasons: ["MQTT uplink disconnected"] });

      broker = await startChunkBroker({ [CAM]: SECRET }, () => undefined, mqttPort);
      const up = await healthUntil(agent, "healthz 200 once the broker listens", (h) => h.status === 200);
      expect(up.body).toMatchObject({ ok: true, camera: CAM, recording: true, mqtt: "connected" });
      expect(up.body.reasons).toBeUndefined();
      // a stop before ffmpeg runs is not what this test is about (the segmenter would miss it)
      await eventually("a chunk recorded", () => agent.lines().some((l) => l.msg === "chunk recorded"), 60_000, 100);
      agent.child.kill("SIGTERM");
      expect(await agent.exited, agent.output()).toBe(0);
    } finally {
      agent.child.kill("SIGKILL");
      await broker?.close();
    }
  });

  it("503 once recording has stopped while the process is still up", async () => {
    const deadApi = `http://127.0.0.1:${await freePort()}`;
    // a file read fast: it ends soon, and its chunks can never be uploaded, so the process stays up
    const agent = startAgentProcess([
      "--camera", CAM, "--source", src, "--segment", "1", "--data", path.join(tmp, "data-ended"),
      "--api", deadApi, "--upload-grace", "0", "--ops-port", "0",
    ], { FOOTFALL_CAMERA_SECRET: SECRET });
    try {
      const stopped = await healthUntil(agent, "recording stopped", (h) => h.body.recording === false);
      expect(stopped.status, agent.output()).toBe(503);
      expect(stopped.body).toMatchObject({ ok: false, camera: CAM, recording: false, reasons: ["recording stopped (ended)"] });
      expect(stopped.body.mqtt).toBeUndefined(); // no uplink configured: not a reason
      expect(agent.child.exitCode).toBeNull();
      agent.child.kill("SIGTERM");
      expect(await agent.exited, agent.output()).toBe(0);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });
});
