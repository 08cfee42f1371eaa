/**
 * The /healthz of the camera agent's two processes tells the truth (real `footfall agent` and
 * `footfall agent detect` processes, the real detector, real MQTT over TCP):
 * - both: 503 with the reason while the MQTT uplink is configured and not connected, 200 once a
 *   broker listens on that port;
 * - `agent`: 503 once recording has stopped while the process is still up (a file source ended,
 *   its uploads still waiting for an unreachable chunk store);
 * - `agent detect`: 503 once the detection loop has stopped while the process is still up (its
 *   last frames waiting for PUBACKs the broker holds back).
 * States are polled for, never timed.
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
const ENV = { FOOTFALL_CAMERA_SECRET: SECRET };
let tmp: string;
let src: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "footfall-agent-health-"));
  src = path.join(tmp, "src.mp4");
  await makeTestSource(src, { size: "320x180", rate: 25, seconds: 3 });
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

/** `footfall agent …` recording into its own folder, uploading to a chunk store nobody serves */
const agentArgs = async (data: string, ...more: string[]) => [
  "--camera", CAM, "--source", src, "--segment", "1", "--data", path.join(tmp, data),
  "--api", `http://127.0.0.1:${await freePort()}`, "--upload-grace", "0", "--ops-port", "0", ...more,
];
const detectArgs = (mqttPort: number, ...more: string[]) => [
  "detect", "--camera", CAM, "--site", "s1", "--mqtt", `mqtt://127.0.0.1:${mqttPort}`, "--source", src,
  "--threads", "1", "--ops-port", "0", ...more,
];

const processes: Array<{
  name: string;
  start(mqttPort: number): Promise<AgentProcess>;
  /** the process's "still at work" field in /healthz */
  field: "recording" | "running";
  /** at work through the broker (for the agent: a stop before ffmpeg runs is not what this is about) */
  working(p: AgentProcess, broker: ChunkBroker): boolean;
}> = [
  {
    name: "footfall agent",
    start: async (mqttPort) => startAgentProcess(await agentArgs("data-mqtt", "--realtime", "--loop", "--mqtt", `mqtt://127.0.0.1:${mqttPort}`, "--site", "s1"), ENV),
    field: "recording",
    working: (p) => p.lines().some((l) => l.msg === "chunk recorded"),
  },
  {
    name: "footfall agent detect",
    start: async (mqttPort) => startAgentProcess(detectArgs(mqttPort, "--realtime", "--loop"), ENV),
    field: "running",
    working: (_p, broker) => broker.frames.length > 0,
  },
];

describe.each(processes)("$name /healthz", ({ start, field, working }) => {
  it("503 while the MQTT uplink is disconnected, 200 once a broker listens", async () => {
    const mqttPort = await freePort(); // nothing listens here yet
    const p = await start(mqttPort);
    let broker: ChunkBroker | undefined;
    try {
      const down = await p.healthWhen("healthz answering", () => true);
      expect(down.status, p.output()).toBe(503);
      expect(down.body).toMatchObject({ ok: false, camera: CAM, [field]: true, mqtt: "disconnected", reasons: ["MQTT uplink disconnected"] });

      broker = await startChunkBroker({ [CAM]: SECRET }, () => undefined, mqttPort);
      const up = await p.healthWhen("healthz 200 once the broker listens", (h) => h.status === 200);
      expect(up.body).toMatchObject({ ok: true, camera: CAM, [field]: true, mqtt: "connected" });
      expect(up.body.reasons).toBeUndefined();
      await eventually("at work", () => working(p, broker!), 60_000, 100).catch((e: Error) => {
        throw new Error(`${e.message}; the broker refused ${JSON.stringify(broker!.refused)}; the process said:\n${p.output().slice(-4000)}`);
      });
      p.child.kill("SIGTERM");
      expect(await p.exited, p.output()).toBe(0);
    } finally {
      p.child.kill("SIGKILL");
      await broker?.close();
    }
  });
});

describe("footfall agent /healthz", () => {
  it("503 once recording has stopped while the process is still up", async () => {
    // a file read fast: it ends soon, and its chunks can never be uploaded, so the process stays up
    const agent = startAgentProcess(await agentArgs("data-ended"), ENV);
    try {
      const stopped = await agent.healthWhen("recording stopped", (h) => h.body.recording === false);
      expect(stopped.status, agent.output()).toBe(503);
      expect(stopped.body).toMatchObject({ ok: false, camera: CAM, recording: false, reasons: ["recording stopped (ended)"] });
      expect(stopped.body.mqtt).toBeUndefined(); // no uplink configured: not a reason
      agent.child.kill("SIGTERM");
      expect(await agent.exited, agent.output()).toBe(0);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });
});

describe("footfall agent detect /healthz", () => {
  it("503 once the detection loop has stopped while the process is still up", async () => {
    const mqttPort = await freePort();
    const broker = await startChunkBroker({ [CAM]: SECRET }, () => undefined, mqttPort);
    const release = broker.holdFrames();
    // 1 s at 5 fps: 5 frames, fewer than --max-in-flight, so the loop ends with all of them unacknowledged
    // no stills: this broker fixture takes frames only
    const p = startAgentProcess(detectArgs(mqttPort, "--duration", "1", "--fps", "5", "--still-every", "0"), ENV);
    try {
      const stopped = await p.healthWhen("the loop stopped", (h) => h.body.running === false);
      expect(stopped.status, p.output()).toBe(503);
      expect(stopped.body).toMatchObject({ ok: false, camera: CAM, running: false, mqtt: "connected", reasons: ["detection loop stopped (end)"] });
      release();
      expect(await p.exited, p.output()).toBe(0);
      expect(p.lines().find((l) => l.msg === "detection stopped")).toMatchObject({ reason: "end", sampled: 5, failed: 0 });
    } finally {
      p.child.kill("SIGKILL");
      await broker.close();
    }
  });
});
