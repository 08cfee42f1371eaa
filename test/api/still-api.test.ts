/**
 * Camera stills end to end over real parts: the camera agent's StillSender (frames of vtest.avi
 * decoded by the real ffmpeg, JPEGs made by the real ffmpeg) publishing through CameraUplink over
 * TCP to the real broker (aedes), which keeps the newest per camera in NATS KV ff_stills (real
 * nats-server) before the PUBACK; the API serves it as image/jpeg. Also: what the broker refuses
 * (not a JPEG, too wide, too large, another camera's topic, not a camera), the bucket's TTL and the
 * API's limits (the TTL, a shorter video retention).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Kvm, type KV } from "@nats-io/kv";
import type { MqttClient } from "mqtt";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KV_STILLS, STILL_TTL_MS } from "../../contracts/nats-layout.ts";
import { STILL_MAX_BYTES, decodeStill, encodeStill, jpegSize } from "../../contracts/still.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { CameraUplink } from "../../video/agent/camera-uplink.ts";
import { sampleFrames, type SampledFrame } from "../../video/detect/frame-sampler.ts";
import { encodeJpeg, StillSender } from "../../video/detect/still-sender.ts";
import { ffprobePath } from "../../video/chunk/ffmpeg-tools.ts";
import { hasVtest, VTEST_AVI, VTEST_HEIGHT, VTEST_WIDTH } from "../models/frames.ts";
import { connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "../broker/broker-fixture.ts";
import { eventually } from "../support/retry.ts";
import { jsonOf, startApiHarness, type ApiHarness } from "./api-harness.ts";

const run = promisify(execFile);
const NO_VTEST = !hasVtest();
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const quiet = pino({ level: "silent" });

describe.skipIf(NO_VTEST)("camera stills: agent -> broker -> KV ff_stills -> API (real ffmpeg, aedes, nats-server)", () => {
  let h: ApiHarness;
  let b: BrokerUnderTest;
  let kv: KV;
  let dir: string;
  let frames: SampledFrame[];
  /** the API's clock, when set */
  let apiNow: number | undefined;
  const cam1 = device("cam-1", { kind: "camera" });
  const cam2 = device("cam-2", { kind: "camera" });
  const dpu = device("dpu-1", { doorway: "d1" });
  const clients: MqttClient[] = [];
  const uplinks: CameraUplink[] = [];
  const still = (camera = "cam-1", site = "mall") => h.fetch(`/api/v1/sites/${site}/cameras/${camera}/still`);
  const storedTs = async (key: string) => {
    const e = await kv.get(key);
    const read = e && e.operation === "PUT" ? decodeStill(e.value) : undefined;
    return read?.ok ? read.still.header.ts : undefined;
  };
  const refused = (reason: string) => metricValue(b.metrics, "footfall_broker_refused_total", { reason });
  const connect = async (d: [{ id: string }, string]) => {
    const c = await connectDevice(b.url, d[0].id, d[1]);
    clients.push(c);
    return c;
  };
  const uplink = async (d: [{ id: string }, string]) => {
    const u = new CameraUplink({ url: b.url, deviceId: d[0].id, secret: d[1], site: "mall", fps: 5, width: VTEST_WIDTH, height: VTEST_HEIGHT, log: quiet });
    uplinks.push(u);
    expect(await u.start()).toBe(true);
    return u;
  };

  beforeAll(async () => {
    h = await startApiHarness({ video: { clock: () => apiNow ?? Date.now() } });
    b = await startBrokerUnderTest(h.services, { devices: [cam1, cam2, dpu], maxPayloadBytes: 256 * 1024 });
    await eventually("the API's registry knows the cameras", () => h.registry.get("cam-2") !== undefined, 10_000, 50);
    kv = await new Kvm(b.nc).open(KV_STILLS);
    dir = mkdtempSync(path.join(os.tmpdir(), "footfall-stills-"));
    frames = [];
    for await (const f of sampleFrames({ source: VTEST_AVI, fps: 1, maxFrames: 4 })) frames.push(f);
  });
  afterAll(async () => {
    for (const u of uplinks) await u.stop({ graceMs: 500 });
    for (const c of clients) c.end(true);
    await b?.stop();
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the agent sends a still every `every` ms of frame time; the broker stores it before the PUBACK; the API serves it", async () => {
    // nothing is made while the uplink is not connected
    const offline = new StillSender({ uplink: new CameraUplink({ url: b.url, deviceId: "cam-1", secret: cam1[1], site: "mall", fps: 5, width: 1, height: 1, log: quiet }), everyMs: 3000 });
    offline.offer(frames[0]!, T0);
    expect(offline.busy).toBe(false);
    const sender = new StillSender({ uplink: await uplink(cam1), everyMs: 3000, log: quiet });
    const before = await metricValue(b.metrics, "footfall_broker_publishes_accepted_total", { type: "still" });
    // frames at 0, 1, 2, 3, 4, 6 s of frame time: stills of 0, 3 and 6 s
    const offered = [0, 1000, 2000, 3000, 4000, 6000];
    const stored: number[] = [];
    for (const [k, dt] of offered.entries()) {
      sender.offer(frames[k % frames.length]!, T0 + dt);
      expect(await sender.drain(10_000)).toBe(true);
      // the PUBACK has arrived: the still is in KV already
      const ts = await storedTs("mall.cam-1");
      if (ts !== undefined && stored.at(-1) !== ts) stored.push(ts);
    }
    expect(stored).toEqual([T0, T0 + 3000, T0 + 6000]);
    expect(sender.counters).toEqual({ acked: 3, failed: 0 });
    expect(await metricValue(b.metrics, "footfall_broker_publishes_accepted_total", { type: "still" })).toBe(before + 3);

    const r = await still();
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("image/jpeg");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("x-still-at")).toBe(new Date(T0 + 6000).toISOString());
    expect([r.headers.get("x-still-frame-width"), r.headers.get("x-still-frame-height")]).toEqual([String(VTEST_WIDTH), String(VTEST_HEIGHT)]);
    const jpeg = Buffer.from(await r.arrayBuffer());
    expect(jpeg.length).toBeLessThanOrEqual(STILL_MAX_BYTES);
    // a real JPEG decoder reads it: 640 px wide, aspect kept
    const file = path.join(dir, "served.jpg");
    writeFileSync(file, jpeg);
    const { stdout } = await run(ffprobePath(), ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json", file]);
    expect(JSON.parse(stdout).streams[0]).toEqual({ codec_name: "mjpeg", width: 640, height: 480 });
  });

  it("refuses what is not a JPEG still of the camera's own, with the reason, and keeps the stored one", async () => {
    const c1 = await connect(cam1);
    const c2 = await connect(cam2);
    const d = await connect(dpu);
    const kept = (await kv.get("mall.cam-1"))!;
    const header = { ts: T0 + 9000, width: VTEST_WIDTH, height: VTEST_HEIGHT };
    const good = await encodeJpeg(frames[0]!, { maxWidth: 640, quality: 5 });
    const wide = await encodeJpeg(frames[0]!, { maxWidth: 768, quality: 5 });
    const png = (await run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1"], { encoding: "buffer" })).stdout;
    const big = Buffer.concat([good.subarray(0, good.length - 2), Buffer.alloc(STILL_MAX_BYTES), good.subarray(good.length - 2)]);
    const topic = (cam: string, kind: "camera" | "dpu" = "camera") => deviceTopic("mall", kind, cam, "still");
    const bad: Array<[MqttClient, string, Uint8Array | string, string, RegExp]> = [
      [c1, topic("cam-1"), encodeStill(header, png), "invalid_payload", /not a JPEG: no start of image marker/],
      [c1, topic("cam-1"), encodeStill(header, good.subarray(0, good.length - 100)), "invalid_payload", /not a JPEG: no end of image marker/],
      [c1, topic("cam-1"), encodeStill(header, wide), "invalid_payload", /768 px wide; a still is at most 640 px wide/],
      [c1, topic("cam-1"), encodeStill(header, big), "too_large", /JPEG of \d+ bytes exceeds the limit/],
      [c1, topic("cam-1"), Buffer.concat([Buffer.from("x".repeat(300 * 1024))]), "too_large", /payload of \d+ bytes exceeds the limit/],
      [c1, topic("cam-1"), good, "invalid_payload", /JSON header line/],
      [c1, topic("cam-1"), encodeStill({ ...header, ts: 5 }, good), "invalid_payload", /header: ts: ts out of range/],
      [c1, topic("cam-1"), Buffer.concat([Buffer.from(JSON.stringify({ ...header, camera: "cam-2" }) + "\n"), good]), "invalid_payload", /camera/],
      // another camera's still topic, and a device that is not a camera
      [c2, topic("cam-1"), encodeStill(header, good), "topic_denied", /.+/],
      [d, topic("dpu-1", "dpu"), encodeStill(header, good), "device_mismatch", /not a camera/],
    ];
    const reasons = [...new Set(bad.map(([, , , reason]) => reason))];
    const countsBefore = await Promise.all(reasons.map(refused));
    const logsBefore = b.logs.lines.length;
    for (const [client, t, payload] of bad) await client.publishAsync(t, Buffer.from(payload), { qos: 1 });
    expect(await Promise.all(reasons.map(refused)))
      .toEqual(reasons.map((reason, i) => countsBefore[i]! + bad.filter(([, , , r]) => r === reason).length));
    const refusals = b.logs.lines.slice(logsBefore).filter((l) => l.msg === "publish refused");
    expect(refusals.map((l) => l.reason)).toEqual(bad.map(([, , , reason]) => reason));
    expect(refusals.map((l) => l.device)).toEqual(["cam-1", "cam-1", "cam-1", "cam-1", "cam-1", "cam-1", "cam-1", "cam-1", "cam-2", "dpu-1"]);
    bad.forEach(([, , , , why], i) => expect(String(refusals[i]!.detail)).toMatch(why));
    // nothing stored: cam-1's still is the one from before, cam-2 and the dpu have none
    expect((await kv.get("mall.cam-1"))!.revision).toBe(kept.revision);
    expect(await kv.get("mall.cam-2")).toBeNull();
    expect(await kv.get("mall.dpu-1")).toBeNull();
    expect(c1.connected && c2.connected && d.connected).toBe(true);

    // cam-2's own still is stored under its own key and served for cam-2 only
    await c2.publishAsync(topic("cam-2"), Buffer.from(encodeStill({ ...header, ts: T0 + 12_000 }, good)), { qos: 1 });
    expect(jpegSize((await kv.get("mall.cam-2"))!.value.subarray(-good.length))).toEqual({ width: 640, height: 480 });
    expect((await still("cam-2")).headers.get("x-still-at")).toBe(new Date(T0 + 12_000).toISOString());
    expect((await still("cam-1")).headers.get("x-still-at")).toBe(new Date(T0 + 6000).toISOString());
  });

  it("404 with a reason when there is no still, 400 for bad ids", async () => {
    expect(await jsonOf(await still("cam-1", "other-site"))).toEqual({ status: 404, body: { error: "not_found", reason: 'site "other-site" has no camera "cam-1"' } });
    expect((await jsonOf(await still("dpu-1"))).status).toBe(404);
    expect((await jsonOf(await still("cam-9"))).status).toBe(404);
    expect((await jsonOf(await still("cam%201"))).status).toBe(400);
    await kv.delete("mall.cam-2");
    expect(await jsonOf(await still("cam-2"))).toEqual({ status: 404, body: { error: "not_found", reason: `camera "cam-2" has sent no still in the last ${STILL_TTL_MS / 1000} s` } });
  });

  it("kept one minute: the bucket's TTL, and the API serves none older", async () => {
    expect((await kv.status()).ttl).toBe(STILL_TTL_MS);
    const created = (await kv.get("mall.cam-1"))!.created.getTime();
    apiNow = created + STILL_TTL_MS - 1;
    expect((await still("cam-1")).status).toBe(200);
    apiNow = created + STILL_TTL_MS;
    expect((await jsonOf(await still("cam-1"))).body.reason).toBe(`camera "cam-1" has sent no still in the last ${STILL_TTL_MS / 1000} s`);
    // and the one found too old is deleted
    await eventually("the expired still deleted", async () => (await kv.get("mall.cam-1"))?.operation === "DEL", 5000, 50);
    apiNow = undefined;
    expect((await still("cam-1")).status).toBe(404);
  });

  it("never served past the camera's video retention when that is shorter", async () => {
    const u = await uplink(cam2);
    const sender = new StillSender({ uplink: u, everyMs: 1000, log: quiet });
    const send = async (ts: number) => { sender.offer(frames[1]!, ts); expect(await sender.drain(10_000)).toBe(true); };
    // cam-2's video is kept 2 s (warm 0 days, cold 2 s)
    const set = await h.admin("PUT", "/api/v1/video/retention/cameras/cam-2", { warm_days: 0, cold_days: 2 / 86_400 });
    expect(set.status).toBe(200);
    await send(T0 + 20_000);
    const created = (await kv.get("mall.cam-2"))!.created.getTime();
    apiNow = created + 1999;
    expect((await still("cam-2")).status).toBe(200);
    apiNow = created + 2000;
    expect((await jsonOf(await still("cam-2"))).body).toEqual({ error: "not_found", reason: 'camera "cam-2" has no still newer than its video retention (2 s)' });
    apiNow = undefined;
    // no video kept at all: no still either
    expect((await h.admin("PUT", "/api/v1/video/retention/cameras/cam-2", { warm_days: 0, cold_days: 0 })).status).toBe(200);
    await send(T0 + 30_000);
    expect((await still("cam-2")).status).toBe(404);
    // back to the defaults (30 + 30 days): the bucket's minute applies
    expect((await h.admin("DELETE", "/api/v1/video/retention/cameras/cam-2")).status).toBe(200);
    await send(T0 + 40_000);
    expect((await still("cam-2")).headers.get("x-still-at")).toBe(new Date(T0 + 40_000).toISOString());
  });
});
