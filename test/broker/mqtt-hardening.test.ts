import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { deviceTopic } from "../../contracts/topics.ts";
import { PUBLISH_HEADER_ROOM } from "../../broker/packet-guard.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";
import { actorMessages, connectDevice, device, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";

const MAX_PAYLOAD = 4096;
const MAX_CONNECT = 4096;
const PER_DEVICE = 2;
const BAN_AFTER = 3;
const BAN_MS = 60_000;
const TS = Date.UTC(2026, 10, 23, 10, 0, 0);

/** MQTT variable byte integer (remaining length). */
function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/**
 * A raw TCP client that sends `header` and then streams zeros up to `total` bytes, as an attacker
 * would. Resolves when the connection ends, with how much the client got into the connection.
 */
function streamPacket(port: number, header: Buffer, total: number): Promise<{ written: number; finished: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let written = 0;
    let finished = false;
    let ended = false;
    const chunk = Buffer.alloc(64 * 1024);
    const done = () => { if (!ended) { ended = true; socket.destroy(); resolve({ written, finished }); } };
    socket.on("error", done);
    socket.on("close", done);
    socket.on("data", () => {});
    const pump = () => {
      while (!ended && written < total) {
        const n = Math.min(chunk.length, total - written);
        written += n;
        if (!socket.write(chunk.subarray(0, n))) return void socket.once("drain", pump);
      }
      if (!ended) {
        finished = true;
        socket.end();
      }
    };
    socket.once("connect", () => {
      socket.write(header);
      pump();
    });
  });
}

describe("mqtt broker hardening (real nats-server, aedes over TCP, raw sockets and mqtt.js)", () => {
  let s: TestServices;
  let b: BrokerUnderTest;
  let clock = Date.now();
  const dpu = device("dpu-h1");
  const dpu2 = device("dpu-h2", { doorway: "d2" });
  const dpu3 = device("dpu-h3", { doorway: "d3" });
  const clients: MqttClient[] = [];
  const connect = async (d: [{ id: string }, string], opts = {}) => {
    const c = await connectDevice(b.url, d[0].id, d[1], opts);
    clients.push(c);
    return c;
  };
  const refused = (reason: string) => metricValue(b.metrics, "footfall_broker_refused_total", { reason });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    b = await startBrokerUnderTest(s, {
      maxPayloadBytes: MAX_PAYLOAD, devices: [dpu, dpu2, dpu3],
      broker: {
        maxConnectBytes: MAX_CONNECT, connectTimeoutMs: 500, maxConnectionsPerDevice: PER_DEVICE,
        throttle: { freeFailures: 1, delayMs: 20, maxDelayMs: 40, banAfter: BAN_AFTER, banMs: BAN_MS },
        now: () => clock,
      },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await b?.stop();
    await s?.stop();
  });

  it("closes a connection whose first packet announces 50 MB after a few KB, and keeps serving devices", async () => {
    const total = 50 * 1024 * 1024;
    const rssBefore = process.memoryUsage().rss;
    // PUBLISH QoS 0, before any CONNECT, announcing 50 MB
    const { written, finished } = await streamPacket(b.broker.port, Buffer.concat([Buffer.from([0x30]), remainingLength(total)]), total);
    const rssAfter = process.memoryUsage().rss;
    console.log(`50 MB PUBLISH before CONNECT: client wrote ${(written / 1024).toFixed(0)} KiB before the close; test process RSS ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MiB more (report only)`);
    expect(finished).toBe(false);
    expect(written).toBeLessThan(total);
    expect(await refused("packet_too_large")).toBe(1);
    const line = b.logs.lines.find((l) => l.reason === "packet_too_large");
    expect(line).toMatchObject({ address: "127.0.0.1", packet: "publish", announced: total, limit: MAX_CONNECT });
    // the broker read the header and at most what one socket read brought along, not the packet
    expect(line!.bytesRead as number).toBeLessThan(256 * 1024);

    const c = await connect(dpu);
    const before = await actorMessages(b.jsm);
    await c.publishAsync(deviceTopic("mall", "dpu", "dpu-h1", "crossing"), JSON.stringify({ id: "after-50mb", ts: TS, doorway: "d1", delta: 1 }), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 1);
    c.end(true);
  });

  it("allows only a small CONNECT before authentication", async () => {
    const before = await refused("packet_too_large");
    const { finished } = await streamPacket(b.broker.port, Buffer.concat([Buffer.from([0x10]), remainingLength(MAX_CONNECT + 1)]), MAX_CONNECT + 1);
    expect(finished).toBe(true); // small enough to be written whole; the broker closed it anyway
    expect(await refused("packet_too_large")).toBe(before + 1);
    expect(b.logs.lines.filter((l) => l.reason === "packet_too_large").at(-1)).toMatchObject({ packet: "connect", announced: MAX_CONNECT + 1 });
  });

  it("after CONNECT allows the payload limit plus topic room, and closes a device's larger packet", async () => {
    const c = await connect(dpu2);
    const topic = deviceTopic("mall", "dpu", "dpu-h2", "status");
    // above the payload limit but within the packet limit: dropped with its PUBACK, the connection stays
    await c.publishAsync(topic, "x".repeat(MAX_PAYLOAD + 1), { qos: 1 });
    expect(c.connected).toBe(true);
    const before = await refused("packet_too_large");
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    c.publish(topic, "x".repeat(MAX_PAYLOAD + PUBLISH_HEADER_ROOM + 1), { qos: 0 });
    await closed;
    expect(await refused("packet_too_large")).toBe(before + 1);
    expect(b.logs.lines.filter((l) => l.reason === "packet_too_large").at(-1)).toMatchObject({ device: "dpu-h2", packet: "publish" });
    c.end(true);
  });

  it("closes a connection that sends no CONNECT within the connect timeout", async () => {
    const before = await refused("connect_timeout");
    const socket = net.connect(b.broker.port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise<void>((r) => socket.once("close", () => r()));
    expect(await refused("connect_timeout")).toBe(before + 1);
    expect(b.logs.lines.some((l) => l.msg === "connection closed: no CONNECT in time" && l.address === "127.0.0.1")).toBe(true);
  });

  it(`refuses a device's connection beyond ${PER_DEVICE} with server unavailable, and takes it once one closed`, async () => {
    const first = await connect(dpu3);
    await connect(dpu3);
    const third = await connectDevice(b.url, "dpu-h3", dpu3[1]).then((c) => { clients.push(c); return "connected"; }, (e: { code?: number }) => e.code);
    expect(third).toBe(3);
    expect(await refused("too_many_connections")).toBe(1);
    expect(b.logs.lines.some((l) => l.msg === "connection refused" && String(l.reason).includes("already has 2 connections"))).toBe(true);
    // the same client id again replaces its connection: not refused
    const again = await connect(dpu3, { clientId: first.options.clientId });
    expect(again.connected).toBe(true);
    for (const c of clients) c.end(true);
    await eventually("dpu-h3's connections closed", async () => (await metricValue(b.metrics, "footfall_broker_connections")) === 0, 10_000, 50);
    expect((await connect(dpu3)).connected).toBe(true);
  });

  it("throttles failed logins: delayed, then the address banned (even with the right secret), until the ban ends", async () => {
    const throttled = (outcome: string) => metricValue(b.metrics, "footfall_auth_throttled_total", { surface: "mqtt", scope: "address", outcome });
    for (let i = 0; i < BAN_AFTER; i++) {
      await expect(connectDevice(b.url, "dpu-h1", "wrong-secret")).rejects.toMatchObject({ code: 5 });
    }
    expect(await throttled("delayed")).toBeGreaterThan(0);
    await expect(connectDevice(b.url, "dpu-h1", dpu[1])).rejects.toMatchObject({ code: 5 });
    expect(await throttled("banned")).toBe(1);
    expect(await refused("auth_throttled")).toBe(1);
    expect(b.logs.lines.some((l) => l.msg === "address banned after repeated failed logins" && l.address === "127.0.0.1")).toBe(true);
    clock += BAN_MS;
    const c = await connect(dpu);
    expect(c.connected).toBe(true);
    c.end(true);
  });
});
