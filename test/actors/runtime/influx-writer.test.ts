import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InfluxDB, IPoint } from "influx";
import { Registry } from "prom-client";
import { createLogger } from "../../../infra/log.ts";
import { influxClient, influxWriteClient } from "../../../infra/provision.ts";
import { InfluxWriter, normalisePoint } from "../../../actors/runtime/influx-writer.ts";
import { RuntimeMetrics } from "../../../actors/runtime/metrics.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";
import { startTcpProxy } from "../../support/tcp-proxy.ts";

const log = createLogger("test", process.env.RT_LOG ?? "fatal");
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

describe("influx writer (real influxd)", () => {
  let s: TestServices;
  beforeAll(async () => { s = await startTestServices({ nats: false }); });
  afterAll(async () => { await s?.stop(); });
  /** a database, a client straight to influxd, and a URL to it through a TCP proxy the test can hold */
  const behindProxy = async (db: string) => {
    const direct = influxClient(s.influxUrl, db);
    await direct.createDatabase(db);
    const proxy = await startTcpProxy(Number(new URL(s.influxUrl).port));
    return { direct, proxy, viaProxy: Object.assign(new URL(s.influxUrl), { port: String(proxy.port) }).toString() };
  };

  it("writes batches larger than 5,000 points and ms / Date / nanosecond timestamps exactly", async () => {
    const influx: InfluxDB = influxClient(s.influxUrl, "w_batch");
    await influx.createDatabase("w_batch");
    const metrics = new RuntimeMetrics(new Registry());
    const writer = new InfluxWriter({ influx, log, metrics });
    const many: IPoint[] = Array.from({ length: 12_001 }, (_, i) => ({ measurement: "bulk", tags: { s: "a" }, fields: { v: i }, timestamp: T0 + i }));
    expect(writer.write(many)).toBe(12_001);
    writer.write([
      { measurement: "when", tags: { how: "ms" }, fields: { v: 1 }, timestamp: T0 + 5 },
      { measurement: "when", tags: { how: "date" }, fields: { v: 2 }, timestamp: new Date(T0 + 6) },
      { measurement: "when", tags: { how: "ns" }, fields: { v: 3 }, timestamp: `${T0 + 7}000123` },
      { measurement: "when", tags: { how: "bigint" }, fields: { v: 4 }, timestamp: (BigInt(T0 + 8) * 1_000_000n + 456n) as unknown as string },
    ]);
    await writer.flush();
    expect(writer.pending()).toBe(0);
    const [count] = await influx.query<{ n: number }>(`SELECT count("v") AS n FROM "bulk"`);
    expect(count?.n).toBe(12_001);
    const rows = await influx.query<{ how: string; v: number }>(`SELECT "v", "how" FROM "when"`, { precision: "n" as never });
    const byHow = Object.fromEntries(rows.map((r) => [r.how, (r as unknown as { time: { getNanoTime(): string } }).time.getNanoTime()]));
    expect(byHow).toEqual({
      ms: `${T0 + 5}000000`,
      date: `${T0 + 6}000000`,
      ns: `${T0 + 7}000123`,
      bigint: `${T0 + 8}000456`,
    });
    expect(await metrics.influxPoints.get().then((m) => m.values[0]?.value)).toBe(12_005);
  });

  it("keeps retrying until the database accepts the batch (nothing dropped)", async () => {
    const influx = influxClient(s.influxUrl, "w_late");
    const writer = new InfluxWriter({ influx, log });
    writer.write([{ measurement: "late", fields: { v: 1 }, timestamp: T0 }, { measurement: "late", fields: { v: 2 }, timestamp: T0 + 1 }]);
    let flushed = false;
    const flushing = writer.flush().then(() => { flushed = true; });
    // the database does not exist yet: InfluxDB answers 404 and the writer retries
    await new Promise((r) => setTimeout(r, 300));
    expect(flushed).toBe(false);
    await influx.createDatabase("w_late");
    await flushing;
    const [count] = await influx.query<{ n: number }>(`SELECT count("v") AS n FROM "late"`);
    expect(count?.n).toBe(2);
  });

  it("bounds its backlog while InfluxDB is away: room() waits, state() tells how long writes have failed; a rewrite changes nothing", async () => {
    // the database does not exist yet: every write fails (404) until it is created
    const influx = influxClient(s.influxUrl, "w_bound");
    const metrics = new RuntimeMetrics(new Registry());
    const writer = new InfluxWriter({ influx, log, metrics, maxBuffered: 10 });
    const points = (from: number, n: number): IPoint[] => Array.from({ length: n }, (_, i) => ({ measurement: "b", tags: { s: "a" }, fields: { v: from + i }, timestamp: T0 + from + i }));
    expect(writer.hasRoom()).toBe(true);
    writer.write(points(0, 10));
    expect(writer.hasRoom()).toBe(false);
    let roomy = false;
    const room = writer.room().then(() => { roomy = true; });
    await eventually("writes have failed", () => writer.state().failingMs > 0);
    expect(roomy).toBe(false);
    expect(writer.state().pending).toBe(10);
    expect(writer.state().oldestMs).toBeGreaterThan(0);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^footfall_actor_influx_backlog_points 10$/m);
    expect(text).toMatch(/^footfall_actor_influx_failing_seconds [1-9]|^footfall_actor_influx_failing_seconds 0\.\d*[1-9]/m);
    await influx.createDatabase("w_bound");
    await room;
    await writer.flush();
    expect(writer.state()).toEqual({ pending: 0, oldestMs: 0, failingMs: 0 });
    // the same points again (a replay after a crash) overwrite themselves
    writer.write(points(0, 10));
    await writer.flush();
    const [count] = await influx.query<{ n: number }>(`SELECT count("v") AS n FROM "b"`);
    expect(count?.n).toBe(10);
    writer.close();
  });

  it("never sends a discarded owner's points, waiting or in flight, even when the network delivers the request late", async () => {
    const db = "w_fence";
    const { direct, proxy, viaProxy } = await behindProxy(db);
    const stats = (camera: string, frames: number, ts: number): IPoint => ({ measurement: "camera_stats", tags: { camera }, fields: { frames }, timestamp: ts });
    const frames = async (camera: string) => (await direct.query<{ frames: number }>(`SELECT "frames" FROM "camera_stats" WHERE "camera" = '${camera}'`)).map((r) => [r.time.getTime(), r.frames]);
    try {
      // the hazard: a host cut off from InfluxDB holds a running total (3 frames) in a request
      // its network delays; the partition's next owner writes the full total (5); the old
      // request lands when the network heals and overwrites it
      const plain = new InfluxWriter({ influx: influxClient(viaProxy, db), log });
      proxy.hold();
      plain.write([stats("c0", 3, T0)], {});
      const late = plain.flush();
      await eventually("the request reached the cut-off network", () => proxy.heldBytes() > 0);
      await direct.writePoints([stats("c0", 5, T0)], { precision: "ms" });
      proxy.release();
      await late;
      expect(await frames("c0")).toEqual([[T0, 3]]);
      plain.close();

      // fenced: the owner that lost its partition is discarded before the next owner writes
      const client = influxWriteClient(viaProxy, db);
      const writer = new InfluxWriter({ influx: client.influx, log, abortInFlight: client.abortInFlight });
      const lost = {};
      const kept = {};
      proxy.hold();
      writer.write([stats("c1", 3, T0)], lost);
      const flushed = writer.flush();
      await eventually("the request reached the cut-off network", () => proxy.heldBytes() > 0);
      writer.write([stats("c1", 4, T0 + 1000)], lost); // still waiting in the queue
      writer.write([stats("c2", 7, T0)], kept); // another partition's, in the same queue
      writer.discard(lost);
      expect(writer.write([stats("c1", 9, T0 + 2000)], lost)).toBe(0);
      // its socket is reset, so the kernel never sends the rest (a plain close would send it, then FIN)
      await eventually("the request in flight was aborted", () => proxy.droppedBytes() > 0);
      await direct.writePoints([stats("c1", 5, T0)], { precision: "ms" });
      proxy.release();
      await flushed;
      await writer.flush();
      expect(await frames("c1")).toEqual([[T0, 5]]);
      expect(await frames("c2")).toEqual([[T0, 7]]);
      expect(writer.state().pending).toBe(0);
      writer.close();
    } finally {
      await proxy.close();
    }
  });

  it("a write that timed out while the network held it never lands when the network heals", async () => {
    const db = "w_timeout";
    const { direct, proxy, viaProxy } = await behindProxy(db);
    const point = (frames: number): IPoint => ({ measurement: "camera_stats", tags: { camera: "c0" }, fields: { frames }, timestamp: T0 });
    try {
      const client = influxWriteClient(viaProxy, db, { requestTimeoutMs: 300 });
      proxy.hold();
      await expect(client.influx.writePoints([point(3)], { precision: "ms" })).rejects.toThrow(/timed out/i);
      // the request's bytes were queued when it timed out: its socket was reset, so they are gone
      await eventually("the timed-out request's connection was reset", () => proxy.droppedBytes() > 0);
      await direct.writePoints([point(5)], { precision: "ms" });
      proxy.release();
      // a write through the healed network after it (a new client: the first one rests its failed host), then the figure
      await influxWriteClient(viaProxy, db).influx.writePoints([{ ...point(1), tags: { camera: "c1" } }], { precision: "ms" });
      const rows = await direct.query<{ frames: number }>(`SELECT "frames" FROM "camera_stats" WHERE "camera" = 'c0'`);
      expect(rows.map((r) => r.frames)).toEqual([5]);
    } finally {
      await proxy.close();
    }
  });

  it("refuses malformed points with a reason instead of poisoning a batch", () => {
    expect(normalisePoint({ measurement: "", fields: { v: 1 } })).toMatch(/measurement/);
    expect(normalisePoint({ measurement: "m", fields: {} })).toMatch(/field/);
    expect(normalisePoint({ measurement: "m", fields: { v: Number.NaN } })).toMatch(/finite/);
    expect(normalisePoint({ measurement: "m", fields: { v: 1 }, timestamp: "yesterday" })).toMatch(/nanoseconds/);
    expect(normalisePoint({ measurement: "m", fields: { v: 1 }, timestamp: new Date("nope") })).toMatch(/invalid Date/);
    expect(normalisePoint({ measurement: "m", tags: { t: 1 as unknown as string }, fields: { v: 1 } })).toMatch(/tag t/);
    const writer = new InfluxWriter({ influx: influxClient(s.influxUrl, "unused"), log });
    expect(writer.write([{ measurement: "m", fields: {} }, { measurement: "m", fields: { v: 1 }, timestamp: T0 }])).toBe(1);
    writer.close();
  });
});
