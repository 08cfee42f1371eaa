import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { STREAM_ACTORS, actorSubject } from "../../contracts/nats-layout.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { CameraStatusMsg, ChunkMsg, FrameMsg } from "../../contracts/track-messages.ts";
import type { ChunkMeta } from "../../contracts/video.ts";
import { signChunkMeta } from "../../video/chunk/chunk-meta.ts";
import type { DetectionFrameIn } from "../../contracts/detection.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";
import { PARTITIONS, actorMessages, connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";

const TS = Date.UTC(2026, 10, 23, 10, 0, 0);

const frame = (seq: number, n = 2): DetectionFrameIn => ({
  frame_ts: TS + seq * 200,
  seq,
  detections: Array.from({ length: n }, (_, i) => ({
    oid: `c1-${seq}-${i}`, cls: "person", score: 0.9, box: [100 + i * 50, 200, 140 + i * 50, 320],
    attrs: { upper: { value: "blue", conf: 0.8 }, lower: { value: "black", conf: 0.7 } },
  })),
});

describe("mqtt broker: camera frames and status into jetstream (real nats-server, aedes over TCP)", () => {
  let s: TestServices;
  let b: BrokerUnderTest;
  const cam1 = device("cam-1", { kind: "camera" });
  const cam2 = device("cam-2", { kind: "camera" });
  const dpu1 = device("dpu-1", { doorway: "d1" });
  const clients: MqttClient[] = [];
  const connect = async (d: [{ id: string }, string], opts = {}) => {
    const c = await connectDevice(b.url, d[0].id, d[1], opts);
    clients.push(c);
    return c;
  };
  const detections = (id: string) => deviceTopic("mall", "camera", id, "detections");
  const subject = actorSubject("camera", "mall.cam-1", PARTITIONS);

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    b = await startBrokerUnderTest(s, { maxPayloadBytes: 64 * 1024, devices: [cam1, cam2, dpu1] });
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await b?.stop();
    await s?.stop();
  });

  it("stores a frame before the PUBACK, once, on the camera actor's subject", async () => {
    const c = await connect(cam1);
    const before = await actorMessages(b.jsm);
    await c.publishAsync(detections("cam-1"), JSON.stringify(frame(1)), { qos: 1 });
    expect((await b.jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(before + 1);
    const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subject });
    expect(sm!.header.get("Nats-Msg-Id")).toBe(`cam-1:f1:${TS + 200}`);
    const msg = FrameMsg.parse(sm!.json());
    expect(msg).toMatchObject({ type: "frame", site: "mall", camera: "cam-1", seq: 1, frameTs: TS + 200 });
    expect(msg.detections.map((d) => d.oid)).toEqual(["c1-1-0", "c1-1-1"]);
    expect(msg.detections[0]!.attrs).toEqual({ upper: { value: "blue", conf: 0.8 }, lower: { value: "black", conf: 0.7 } });

    // an empty frame is a frame too; a re-send is stored once
    await c.publishAsync(detections("cam-1"), JSON.stringify(frame(2, 0)), { qos: 1 });
    const dups = await metricValue(b.metrics, "footfall_broker_duplicate_frames_total");
    await c.publishAsync(detections("cam-1"), JSON.stringify(frame(1)), { qos: 1 });
    expect((await b.jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(before + 2);
    expect(await metricValue(b.metrics, "footfall_broker_duplicate_frames_total")).toBe(dups + 1);
    expect(await metricValue(b.metrics, "footfall_broker_detections_total")).toBe(2);
  });

  it("refuses bad frames with a reason and the device id, stores nothing, keeps the connection", async () => {
    const c = await connect(cam1);
    const dpu = await connect(dpu1);
    const before = await actorMessages(b.jsm);
    const logsBefore = b.logs.lines.length;
    const good = frame(10);
    const det = good.detections[0]!;
    const bad: Array<[MqttClient, string, unknown, RegExp]> = [
      [c, detections("cam-1"), { ...good, detections: [{ ...det, box: [10, 10, 5, 20] }] }, /x1 < x2/],
      [c, detections("cam-1"), { ...good, detections: [{ ...det, attrs: { upper: { value: "teal", conf: 0.5 } } }] }, /upper must be one of/],
      [c, detections("cam-1"), { ...good, detections: [det, det] }, /appears more than once/],
      [c, detections("cam-1"), { ...good, seq: -1 }, /seq/],
      [c, detections("cam-1"), { ...good, frame_ts: "yesterday" }, /frame_ts/],
      [c, detections("cam-1"), { ...good, camera: "cam-2" }, /camera/],
      [c, detections("cam-1"), { ...good, detections: [{ ...det, score: 1.5 }] }, /score/],
      [c, detections("cam-1"), { ...good, detections: Array.from({ length: 501 }, (_, i) => ({ ...det, oid: `o${i}`, attrs: undefined })) }, /at most 500/],
      [c, deviceTopic("mall", "camera", "cam-2", "detections"), good, /may publish only/],
      [dpu, deviceTopic("mall", "dpu", "dpu-1", "detections"), good, /not a camera/],
    ];
    for (const [client, topic, payload] of bad) await client.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before);
    const refusals = b.logs.lines.slice(logsBefore).filter((l) => l.msg === "publish refused");
    expect(refusals.length).toBe(bad.length);
    bad.forEach(([, , , why], i) => {
      expect(refusals[i]!.device).toBe(i === bad.length - 1 ? "dpu-1" : "cam-1");
      expect(String(refusals[i]!.detail)).toMatch(why);
    });
    await c.publishAsync(detections("cam-1"), JSON.stringify(frame(11)), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 1);
    expect(c.connected).toBe(true);
  });

  it("stores a chunk announcement once before the PUBACK; refuses another camera's chunk and bad records", async () => {
    const c = await connect(cam1);
    const dpu = await connect(dpu1);
    const chunkTopic = deviceTopic("mall", "camera", "cam-1", "chunk");
    const meta = (camera: string, seq: number): ChunkMeta => signChunkMeta({
      v: 1, camera, seq, file: `chunk-${String(seq).padStart(8, "0")}.mp4`, start_ms: TS + seq * 2000, end_ms: TS + seq * 2000 + 2000,
      gap_before_ms: 0, duration_s: 2, frames: 50, width: 1280, height: 720, codec: "h264", bytes: 123_456, sha256: "ab".repeat(32),
    }, "k");
    const before = await actorMessages(b.jsm);
    await c.publishAsync(chunkTopic, JSON.stringify(meta("cam-1", 4)), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 1);
    const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subject });
    expect(sm!.header.get("Nats-Msg-Id")).toBe("cam-1:c4");
    expect(ChunkMsg.parse(sm!.json())).toMatchObject({ type: "chunk", site: "mall", camera: "cam-1", seq: 4, start_ms: TS + 8000, duration_s: 2, bytes: 123_456 });
    await c.publishAsync(chunkTopic, JSON.stringify(meta("cam-1", 4)), { qos: 1 }); // a re-send
    expect(await actorMessages(b.jsm)).toBe(before + 1);

    const logsBefore = b.logs.lines.length;
    const bad: Array<[MqttClient, string, unknown, RegExp]> = [
      [c, chunkTopic, meta("cam-2", 5), /chunk of camera cam-2 announced by device cam-1/],
      [c, chunkTopic, { ...meta("cam-1", 6), sha256: "xyz" }, /sha256/],
      [c, chunkTopic, { ...meta("cam-1", 7), end_ms: TS }, /end_ms/],
      [dpu, deviceTopic("mall", "dpu", "dpu-1", "chunk"), meta("dpu-1", 8), /not a camera/],
    ];
    for (const [client, topic, payload] of bad) await client.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 1);
    const refusals = b.logs.lines.slice(logsBefore).filter((l) => l.msg === "publish refused");
    expect(refusals.length).toBe(bad.length);
    bad.forEach(([, , , why], i) => expect(String(refusals[i]!.detail)).toMatch(why));
  });

  it("stores status heartbeats, and the last will when a camera drops off", async () => {
    const c = await connect(cam2, { will: { topic: deviceTopic("mall", "camera", "cam-2", "status"), payload: Buffer.from('{"state":"offline"}'), qos: 0, retain: false } });
    const subj = actorSubject("camera", "mall.cam-2", PARTITIONS);
    c.publish(deviceTopic("mall", "camera", "cam-2", "status"), JSON.stringify({ state: "online", ts: TS, fps: 5, width: 1280, height: 720, uptime_s: 12 }), { qos: 0 });
    await eventually("heartbeat stored", async () => {
      const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subj }).catch(() => null);
      return sm !== null && CameraStatusMsg.parse(sm.json()).state === "online";
    }, 10_000, 50);
    c.stream.destroy(); // no DISCONNECT packet: the broker publishes the will
    await eventually("last will stored", async () => {
      const sm = await b.jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subj }).catch(() => null);
      if (!sm) return false;
      const m = CameraStatusMsg.parse(sm.json());
      return m.state === "offline" && m.camera === "cam-2" && m.ts > 0;
    }, 10_000, 50);
  });
});
