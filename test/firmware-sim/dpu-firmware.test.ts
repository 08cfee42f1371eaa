import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deviceTopic } from "../../contracts/topics.ts";
import { DpuFirmware, type DpuFirmwareOptions } from "../../firmware-sim/dpu-firmware.ts";
import { mulberry32 } from "../../firmware-sim/random.ts";
import { eventually } from "../support/retry.ts";
import { startRecordingBroker, type RecordingBroker } from "./recording-broker.ts";

const SITE = "fw-site";
const SECRET = "right-secret-123";
const T0 = Date.UTC(2026, 5, 1, 10);
const quiet = pino({ level: "silent" });

describe("DPU firmware against a real aedes broker over TCP", () => {
  let broker: RecordingBroker;
  let dataDir: string;
  const running: DpuFirmware[] = [];

  const firmware = (o: Partial<DpuFirmwareOptions> = {}) => {
    const fw = new DpuFirmware({
      url: broker.url, deviceId: "dpu-a", secret: SECRET, site: SITE, dataDir,
      rng: mulberry32(7), log: quiet, ...o,
    });
    running.push(fw);
    return fw;
  };
  const crossing = (i: number) => ({ id: `e${i}`, ts: T0 + i * 1000, doorway: "door-a", delta: (i % 3 === 0 ? -1 : 1) as 1 | -1 });
  const record = (fw: DpuFirmware, from: number, to: number) =>
    Promise.all(Array.from({ length: to - from }, (_, k) => fw.record(crossing(from + k))));

  beforeEach(async () => {
    broker = await startRecordingBroker({ "dpu-a": SECRET, "dpu-b": SECRET });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "footfall-fw-"));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((f) => f.stop({ graceMs: 0 })));
    await broker.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("publishes each crossing live as one event on its device topic, with its clock skew", async () => {
    const fw = firmware({ clockSkewMs: -250 });
    expect(await fw.start()).toBe(true);
    await record(fw, 0, 20);
    await fw.flush();
    expect(broker.arrivals).toHaveLength(20);
    for (const a of broker.arrivals) {
      expect(a.topic).toBe(deviceTopic(SITE, "dpu", "dpu-a", "crossing"));
      expect(a.shape).toBe("single");
      expect(a.clientId).toBe("dpu-a");
    }
    expect(broker.ids()).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
    expect(broker.arrivals.map((a) => a.events[0]!.ts)).toEqual(Array.from({ length: 20 }, (_, i) => T0 + i * 1000 - 250));
    expect(fw.counters).toMatchObject({ sent: 20, duplicatesSent: 0, buffered: 0, replayed: 0 });
  });

  it("buffers on disk while offline, then replays in shuffled batches, each crossing exactly once", async () => {
    const fw = firmware({ batchSize: 100 });
    await fw.start();
    await record(fw, 0, 5);
    await fw.goOffline();
    await record(fw, 5, 455);
    expect(fw.bufferedNow).toBe(450);
    expect(fs.readFileSync(fw.bufferFile, "utf8").trim().split("\n")).toHaveLength(450);
    expect(broker.arrivals).toHaveLength(5); // nothing went out while offline

    expect(await fw.goOnline()).toBe(true);
    await fw.flush();
    const replay = broker.arrivals.slice(5);
    expect(replay.map((a) => a.shape)).toEqual(["batch", "batch", "batch", "batch", "batch"]);
    expect(replay.every((a) => a.ids.length <= 100)).toBe(true);
    const ids = replay.flatMap((a) => a.ids);
    const expected = Array.from({ length: 450 }, (_, i) => `e${i + 5}`);
    expect([...ids].sort()).toEqual([...expected].sort()); // all of them, each once
    expect(ids).not.toEqual(expected); // but not in the order they happened
    expect(fs.readFileSync(fw.bufferFile, "utf8")).toBe("");
    expect(fw.counters).toMatchObject({ sent: 455, buffered: 450, replayed: 450 });

    // and live again afterwards
    await record(fw, 455, 456);
    await fw.flush();
    expect(broker.arrivals.at(-1)).toMatchObject({ shape: "single", ids: ["e455"] });
  });

  it("a restarted firmware replays what its disk buffer file holds, skipping lines that are not crossings", async () => {
    const first = firmware();
    await first.start();
    await first.goOffline();
    await record(first, 0, 30);
    await first.stop();
    expect(broker.arrivals).toHaveLength(0);
    fs.appendFileSync(first.bufferFile, "this is not json\n" + JSON.stringify({ id: "bad", ts: T0, doorway: "door-a", delta: 2 }) + "\n");

    const second = firmware();
    expect(await second.start()).toBe(true);
    await second.flush();
    expect(broker.arrivals.every((a) => a.shape === "batch")).toBe(true);
    expect(broker.ids().sort()).toEqual(Array.from({ length: 30 }, (_, i) => `e${i}`).sort());
    expect(fs.readFileSync(second.bufferFile, "utf8")).toBe("");
    expect(second.counters.replayed).toBe(30);
  });

  it("with a duplicate rate, some crossings are published twice with the same id", async () => {
    const fw = firmware({ duplicateRate: 0.3 });
    await fw.start();
    await record(fw, 0, 100);
    await fw.flush();
    const ids = broker.ids();
    const distinct = new Set(ids);
    expect(distinct.size).toBe(100);
    expect(ids.length - distinct.size).toBe(fw.counters.duplicatesSent);
    expect(fw.counters.duplicatesSent).toBeGreaterThan(0);
    expect(fw.counters.sent).toBe(ids.length);
  });

  it("replayed duplicates go in separate batches: no payload repeats an id", async () => {
    const fw = firmware({ duplicateRate: 0.5, batchSize: 40 });
    await fw.start();
    await fw.goOffline();
    await record(fw, 0, 100);
    await fw.goOnline();
    await fw.flush();
    for (const a of broker.arrivals) expect(new Set(a.ids).size).toBe(a.ids.length);
    const ids = broker.ids();
    expect(new Set(ids).size).toBe(100);
    expect(ids.length - 100).toBe(fw.counters.duplicatesSent);
    expect(fw.counters.duplicatesSent).toBeGreaterThan(0);
    expect(fw.counters.replayed).toBe(100);
  });

  it("flush() resolves only once the broker has acknowledged every publish", async () => {
    const fw = firmware();
    await fw.start();
    broker.holdAcks();
    let recorded = false;
    let flushed = false;
    const recording = record(fw, 0, 10).then(() => { recorded = true; });
    const flushing = fw.flush().then(() => { flushed = true; });
    await eventually("all 10 publishes reached the broker", () => broker.arrivals.length === 10, 10_000, 20);
    // they arrived but were not acknowledged: nothing may count as delivered yet
    expect(recorded).toBe(false);
    expect(flushed).toBe(false);
    expect(fw.counters.sent).toBe(0);
    broker.releaseAcks();
    await flushing;
    await recording;
    expect(fw.counters.sent).toBe(10);
  });

  it("reconnects by itself after the broker dropped it and replays what was buffered meanwhile", async () => {
    const fw = firmware({ batchSize: 7 });
    await fw.start();
    await record(fw, 0, 3);
    await broker.goDown();
    await eventually("firmware noticed the connection is gone", () => !fw.online, 10_000, 20);
    await record(fw, 3, 23);
    expect(fw.bufferedNow).toBe(20);
    await broker.comeBack();
    await fw.flush();
    const later = broker.arrivals.slice(3);
    expect(later.every((a) => a.shape === "batch")).toBe(true);
    expect(later.flatMap((a) => a.ids).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `e${i + 3}`).sort());
    expect(fw.online).toBe(true);
  });

  it("publishes that lost their PUBACK to a dropped connection are sent again after reconnecting", async () => {
    const fw = firmware();
    await fw.start();
    broker.holdAcks();
    const recording = record(fw, 0, 10);
    await eventually("all 10 publishes reached the broker", () => broker.arrivals.length === 10, 10_000, 20);
    await broker.goDown();
    broker.releaseAcks(); // too late: those connections are gone
    await broker.comeBack();
    await fw.flush();
    await recording;
    expect(new Set(broker.ids().slice(10))).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `e${i}`)));
    expect(fw.counters.sent).toBe(10);
  });

  it("logs and counts a refused CONNACK for a wrong secret, keeps retrying, and buffers meanwhile", async () => {
    const lines: string[] = [];
    const fw = firmware({ secret: "wrong-secret-000", log: pino({ level: "info" }, { write: (s: string) => { lines.push(s); } }) });
    expect(await fw.start()).toBe(false);
    await eventually("a second refused attempt (backoff retry)", () => fw.counters.refused >= 2, 10_000, 20);
    const refusal = lines.map((l) => JSON.parse(l) as { msg: string; returnCode?: number; device?: string }).find((l) => l.msg === "broker refused the connection");
    expect(refusal).toMatchObject({ returnCode: 4, device: "dpu-a" });
    expect(broker.refusedConnects).toBeGreaterThanOrEqual(2);
    await fw.record(crossing(1));
    expect(fw.bufferedNow).toBe(1);
    expect(broker.arrivals).toHaveLength(0);
  });

  it("refuses an invalid crossing with the reason and sends nothing", async () => {
    const fw = firmware();
    await fw.start();
    await expect(fw.record({ id: "has space", ts: T0, doorway: "door-a", delta: 1 })).rejects.toThrow(/id must be printable ASCII/);
    await expect(fw.record({ id: "x1", ts: T0, doorway: "door/a", delta: 1 })).rejects.toThrow(/doorway id/);
    await fw.flush();
    expect(broker.arrivals).toHaveLength(0);
  });
});
