/**
 * The camera uplink given several brokers: it starts on the first, and when that one goes away
 * (closed with publishes in flight) or goes silent (no PUBACK), it moves to the next and every
 * frame is acknowledged there. Real aedes brokers over TCP.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { CameraUplink } from "../../../video/agent/camera-uplink.ts";
import { cameraMall, cameraMallSecrets } from "../../../firmware-sim/camera-mall.ts";
import { simulateCameraFrames } from "../../../firmware-sim/camera-run.ts";
import { startCameraRecordingBroker, type CameraRecordingBroker } from "../../firmware-sim/camera-recording-broker.ts";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.ts";

const quiet = pino({ level: "silent" });
const plan = cameraMall("failover-mall");
const secrets = cameraMallSecrets(plan);
const cam = plan.cameras[0]!;
const frames = simulateCameraFrames({ plan, walkers: 20, durationMs: 30_000, startTs: Date.UTC(2026, 5, 1, 10), seed: 3, faults: { duplicateRate: 0, lateBatchRate: 0 } })
  .frames.filter((f) => f.camera === cam.id).map((f) => f.payload);

describe("camera uplink with a list of brokers", () => {
  const open: Array<CameraRecordingBroker | TcpProxy> = [];
  let uplink: CameraUplink | undefined;
  afterEach(async () => {
    await uplink?.stop({ graceMs: 0 });
    uplink = undefined;
    for (const o of open.splice(0)) await o.close();
  });

  const frameArrivals = (b: CameraRecordingBroker) => b.arrivals.filter((a) => a.clientId === cam.id && a.topic.endsWith("/detections")).map((a) => a.payload);

  it("moves to the next broker when the first closes with frames in flight; every frame acknowledged", async () => {
    expect(frames.length).toBeGreaterThan(40);
    const a = await startCameraRecordingBroker(secrets);
    const b = await startCameraRecordingBroker(secrets);
    open.push(a, b);
    uplink = new CameraUplink({ url: `${a.url},${b.url}`, deviceId: cam.id, secret: secrets[cam.id]!, site: plan.site, fps: 5, width: 1280, height: 720, reconnectPeriodMs: 100, log: quiet });
    expect(await uplink.start()).toBe(true);
    const half = Math.floor(frames.length / 2);
    for (const p of frames.slice(0, half)) await uplink.publishFrame(p);
    expect(frameArrivals(a)).toEqual(frames.slice(0, half));
    // the rest handed over at once, and the first broker goes away under them
    const rest = frames.slice(half).map((p) => uplink!.publishFrame(p));
    await a.close();
    await Promise.all(rest);
    expect(uplink.counters.framesAcked).toBe(frames.length);
    expect(uplink.counters.ackTimeouts).toBe(0);
    const got = new Set([...frameArrivals(a), ...frameArrivals(b)]);
    expect(frames.filter((p) => !got.has(p))).toEqual([]);
    expect(frameArrivals(b).length).toBeGreaterThan(0);
  });

  it("leaves a broker that stops acknowledging (silent connection) after the ack timeout", async () => {
    const a = await startCameraRecordingBroker(secrets);
    const b = await startCameraRecordingBroker(secrets);
    const proxy = await startTcpProxy(Number(new URL(a.url).port));
    open.push(proxy, a, b);
    uplink = new CameraUplink({
      url: [`mqtt://127.0.0.1:${proxy.port}`, b.url], deviceId: cam.id, secret: secrets[cam.id]!, site: plan.site,
      fps: 5, width: 1280, height: 720, reconnectPeriodMs: 100, ackTimeoutMs: 1000, log: quiet,
    });
    expect(await uplink.start()).toBe(true);
    await uplink.publishFrame(frames[0]!);
    proxy.silence();
    await Promise.all(frames.slice(1).map((p) => uplink!.publishFrame(p)));
    expect(uplink.counters.framesAcked).toBe(frames.length);
    expect(uplink.counters.ackTimeouts).toBe(1);
    expect(frameArrivals(b)).toEqual(frames.slice(1));
  });
});
