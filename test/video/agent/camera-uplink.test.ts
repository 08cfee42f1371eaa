import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CameraStatus, DetectionFrame } from "../../../contracts/detection.ts";
import { deviceTopic } from "../../../contracts/topics.ts";
import { CameraUplink } from "../../../video/agent/camera-uplink.ts";
import { cameraMall, cameraMallSecrets } from "../../../firmware-sim/camera-mall.ts";
import { runCameraSim, simulateCameraFrames } from "../../../firmware-sim/camera-run.ts";
import { eventually } from "../../support/retry.ts";
import { startCameraRecordingBroker, type CameraRecordingBroker } from "../../firmware-sim/camera-recording-broker.ts";

const T0 = Date.UTC(2026, 5, 1, 10);
const quiet = pino({ level: "silent" });
const plan = cameraMall("fw-mall");
const secrets = cameraMallSecrets(plan);

describe("camera firmware against a real aedes broker over TCP", () => {
  let broker: CameraRecordingBroker;
  beforeEach(async () => { broker = await startCameraRecordingBroker(secrets); });
  afterEach(async () => { await broker.close(); });

  it("publishes every frame of a run as a valid DetectionFrame at QoS 1, duplicates byte-identical, in publish order", async () => {
    const run = { plan, walkers: 40, durationMs: 2 * 60_000, startTs: T0, seed: 8, faults: { lateBatchRate: 0.01 } };
    const expected = simulateCameraFrames(run);
    const progress: number[] = [];
    const result = await runCameraSim({ ...run, mqttUrl: broker.url, secrets, log: quiet, onProgress: (done) => progress.push(done) });
    expect(broker.refusedPublishes).toEqual([]);
    const detections = broker.arrivals.filter((a) => a.topic.endsWith("/detections"));
    expect(detections.length).toBe(expected.frames.length);
    expect(result.messages).toBe(expected.frames.length);
    expect(result.frames).toBe(expected.counters.frames);
    expect(result.duplicatesSent).toBeGreaterThan(0);
    expect(result.lateBatches).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toBe(result.frames);
    // each camera's messages arrive in the order the camera sent them, with the same bytes
    for (const c of plan.cameras) {
      const got = detections.filter((a) => a.clientId === c.id);
      const sent = expected.frames.filter((f) => f.camera === c.id);
      expect(got.map((a) => a.payload)).toEqual(sent.map((f) => f.payload));
      expect(got.every((a) => a.topic === deviceTopic(plan.site, "camera", c.id, "detections") && a.qos === 1)).toBe(true);
    }
    for (const a of detections) expect(DetectionFrame.safeParse(JSON.parse(a.payload)).success).toBe(true);
    // the truth of the run is the truth of the same simulation without MQTT
    expect(result.truth.frames.length).toBe(expected.truth.frames.length);
    expect(result.detections).toBe(expected.counters.detections);

    // heartbeats at QoS 0 every 5 simulated seconds, then "offline" when the cameras shut down
    const status = broker.arrivals.filter((a) => a.topic.endsWith("/status"));
    for (const c of plan.cameras) {
      const mine = status.filter((a) => a.clientId === c.id).map((a) => CameraStatus.parse(JSON.parse(a.payload)));
      const online = mine.filter((s) => s.state === "online");
      expect(online.length).toBe(2 * 60 / 5); // at T0, T0+5 s, ... before the last frame
      expect(online[0]).toMatchObject({ fps: 5, width: 1280, height: 720, uptime_s: 0, ts: T0 });
      expect(online[1]).toMatchObject({ uptime_s: 5, ts: T0 + 5000 });
      expect(mine[mine.length - 1]!.state).toBe("offline");
    }
    expect(status.filter((a) => a.payload.includes("online")).every((a) => a.qos === 0)).toBe(true);
  });

  it("paces publishing to the given speed", async () => {
    const t0 = performance.now();
    await runCameraSim({ plan, walkers: 5, durationMs: 10_000, startTs: T0, seed: 1, speed: 10, mqttUrl: broker.url, secrets, log: quiet, cameras: ["cam-c1", "cam-c2"] });
    const ms = performance.now() - t0;
    // 10 s of simulated time at 10x cannot go out in less than about 1 s (how fast it could go is not a test's business)
    expect(ms).toBeGreaterThan(900);
  });

  it("the last will {\"state\":\"offline\"} fires when the connection drops", async () => {
    const fw = new CameraUplink({ url: broker.url, deviceId: "cam-c1", secret: secrets["cam-c1"]!, site: plan.site, fps: 5, width: 1280, height: 720, log: quiet });
    expect(await fw.start()).toBe(true);
    await fw.publishFrame(JSON.stringify({ frame_ts: T0, seq: 0, detections: [] }));
    fw.publishStatus(fw.heartbeat(T0, 0));
    await eventually("heartbeat", () => broker.arrivals.some((a) => a.topic.endsWith("/status")), 5000, 20);
    fw.crash();
    await eventually("last will", () => broker.arrivals.some((a) => a.topic === fw.statusTopic && a.payload === JSON.stringify({ state: "offline" })), 5000, 20);
    const will = broker.arrivals.find((a) => a.payload === JSON.stringify({ state: "offline" }))!;
    expect(CameraStatus.parse(JSON.parse(will.payload)).state).toBe("offline");
    expect(will.clientId).toBe("cam-c1");
  });

  it("a clean stop does not fire the will (and announces offline itself only when asked)", async () => {
    const fw = new CameraUplink({ url: broker.url, deviceId: "cam-c2", secret: secrets["cam-c2"]!, site: plan.site, fps: 5, width: 1280, height: 720, log: quiet });
    await fw.start();
    await fw.publishFrame(JSON.stringify({ frame_ts: T0, seq: 0, detections: [] }));
    await fw.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(broker.arrivals.filter((a) => a.topic.endsWith("/status"))).toEqual([]);
  });

  it("refused credentials make the run fail naming the camera", async () => {
    await expect(runCameraSim({
      plan, walkers: 2, durationMs: 2000, startTs: T0, seed: 1, mqttUrl: broker.url, log: quiet,
      secrets: { ...secrets, "cam-c3": "wrong-secret-123" }, cameras: ["cam-c1", "cam-c3"],
    })).rejects.toThrow(/refused the credentials of cam-c3/);
    expect(broker.refusedConnects).toBeGreaterThan(0);
  });
});
