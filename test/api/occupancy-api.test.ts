import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldType, InfluxDB } from "influx";
import { influxOptions } from "../../infra/provision.ts";
import { startApiHarness, jsonOf, type ApiHarness } from "./api-harness.ts";
import { runApi } from "../../api/main.ts";
import { loadConfig } from "../../infra/config.ts";
import { freePort } from "../support/ports.ts";

const H = 3_600_000;
const DAY = 24 * H;
/** three days ago, midnight UTC: inside the raw retention policy (30 days) */
const D0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
const date = (ms: number) => iso(ms).slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString();

describe("occupancy queries (real influxd and nats-server)", () => {
  let h: ApiHarness;
  const get = async (path: string) => jsonOf(await h.fetch(`/api/v1${path}`));

  beforeAll(async () => {
    h = await startApiHarness({ influx: true });
    const put = await h.admin("PUT", "/api/v1/sites/hq/topology", {
      spaces: [{ id: "lobby", name: "Lobby" }, { id: "hall", name: "Hall" }, { id: "attic", name: "Attic" }],
      doorways: [{ id: "front", entering_to: "lobby", exiting_to: "outside" }, { id: "inner", entering_to: "hall", exiting_to: "lobby" }],
    });
    expect(put.status).toBe(200);

    // what the occupancy actors write: one point per instant the count changed (integer field)
    const writer = new InfluxDB({
      ...influxOptions(h.services.influxUrl, h.cfg.influxDb),
      schema: [
        { measurement: "occupancy", tags: ["site", "space"], fields: { count: FieldType.INTEGER } },
        { measurement: "site_occupancy", tags: ["site"], fields: { count: FieldType.INTEGER } },
        { measurement: "occupancy_1h", tags: ["site", "space"], fields: { peak: FieldType.INTEGER, mean: FieldType.FLOAT, last: FieldType.INTEGER } },
      ],
    });
    const lobby = (ms: number, count: number) => ({ measurement: "occupancy", tags: { site: "hq", space: "lobby" }, fields: { count }, timestamp: new Date(ms) });
    await writer.writePoints([lobby(D0 + 8 * H, 3), lobby(D0 + 9 * H, 5), lobby(D0 + 10.5 * H, 2)], { retentionPolicy: "raw" });
    await writer.writePoints([
      { measurement: "site_occupancy", tags: { site: "hq" }, fields: { count: 4 }, timestamp: new Date(D0 + 8 * H) },
      { measurement: "site_occupancy", tags: { site: "hq" }, fields: { count: 9 }, timestamp: new Date(D0 + 9 * H) },
    ], { retentionPolicy: "raw" });
    // the attic only has an hourly rollup (its raw points have expired)
    await writer.writePoints([
      { measurement: "occupancy_1h", tags: { site: "hq", space: "attic" }, fields: { peak: 9, mean: 4.5, last: 7 }, timestamp: new Date(D0 - 30 * DAY + 10 * H) },
    ], { retentionPolicy: "rollup" });
  });
  afterAll(async () => { await h?.stop(); });

  it("count at an instant is the last count at or before it; distant past 0, future and now the current count", async () => {
    const at = async (q: string) => (await get(`/sites/hq/spaces/lobby/count${q}`)).body;
    expect(await at(`?at=${iso(D0 + 9 * H)}`)).toEqual({ site: "hq", space: "lobby", count: 5, at: iso(D0 + 9 * H) });
    expect((await at(`?at=${D0 + 9 * H - 1}`)).count).toBe(3);
    expect((await at(`?at=${iso(D0 + 10 * H)}`)).count).toBe(5);
    expect((await at("?at=1984-01-01")).count).toBe(0);
    expect((await at(`?at=${iso(D0 + 8 * H - 1)}`)).count).toBe(0);
    expect((await at("?at=2525-01-01")).count).toBe(2);
    const now = await at("");
    expect(now.count).toBe(2);
    expect(Math.abs(Date.parse(now.at) - Date.now())).toBeLessThan(60_000);
    expect((await get("/sites/hq/spaces/hall/count")).body.count).toBe(0);
  });

  it("falls back to the hourly rollup when raw holds nothing up to the instant", async () => {
    const hourEnd = D0 - 30 * DAY + 11 * H;
    expect((await get(`/sites/hq/spaces/attic/count?at=${iso(hourEnd)}`)).body.count).toBe(7);
    expect((await get(`/sites/hq/spaces/attic/count?at=${iso(hourEnd - 1)}`)).body.count).toBe(0);
  });

  it("404 for unknown sites and spaces and for outside, 400 for a bad instant, as JSON", async () => {
    expect(await get("/sites/nowhere/spaces/lobby/count")).toMatchObject({ status: 404, body: { error: "not_found", reason: 'site "nowhere" has no topology' } });
    expect(await get("/sites/hq/spaces/kitchen/count")).toMatchObject({ status: 404, body: { reason: 'space "kitchen" is not part of site "hq"' } });
    expect((await get("/sites/hq/spaces/outside/count")).status).toBe(404);
    const bad = await get("/sites/hq/spaces/lobby/count?at=tomorrow");
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toMatch(/at: "tomorrow" is not a time/);
    expect((await get("/sites/hq/spaces/lobby/count?at=1&at=2")).status).toBe(400);
    expect((await get("/sites/h%20q/spaces/lobby/count")).status).toBe(400);
  });

  it("series: the count holding at each step boundary, carried from before `from`", async () => {
    const s = await get(`/sites/hq/spaces/lobby/series?from=${iso(D0 + 7 * H)}&to=${iso(D0 + 11 * H)}&step=1h`);
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ site: "hq", space: "lobby", from: iso(D0 + 7 * H), to: iso(D0 + 11 * H), step: "1h" });
    expect(s.body.points).toEqual([
      { t: iso(D0 + 7 * H), count: 0 }, { t: iso(D0 + 8 * H), count: 3 }, { t: iso(D0 + 9 * H), count: 5 },
      { t: iso(D0 + 10 * H), count: 5 }, { t: iso(D0 + 11 * H), count: 2 },
    ]);

    const later = await get(`/sites/hq/spaces/lobby/series?from=${iso(D0 + 12 * H)}&to=${iso(D0 + 13 * H)}&step=30m`);
    expect(later.body.points.map((p: { count: number }) => p.count)).toEqual([2, 2, 2]);

    // a range not aligned to the step, compared point by point with the count endpoint
    const from = D0 + 7 * H + 7 * 60_000;
    const odd = await get(`/sites/hq/spaces/lobby/series?from=${from}&to=${from + 4 * H}&step=25m`);
    for (const p of odd.body.points as Array<{ t: string; count: number }>) {
      expect((await get(`/sites/hq/spaces/lobby/count?at=${p.t}`)).body.count, p.t).toBe(p.count);
    }
    expect(odd.body.points).toHaveLength(10);
  });

  it("series refuses too many points and bad steps with 400, and picks a step when none is given", async () => {
    const many = await get("/sites/hq/spaces/lobby/series?from=2024-01-01&to=2024-03-01&step=1m");
    expect(many.status).toBe(400);
    expect(many.body.reason).toMatch(/at most 10000/);
    expect((await get("/sites/hq/spaces/lobby/series?step=1x")).status).toBe(400);
    const dflt = await get(`/sites/hq/spaces/lobby/series?from=${iso(D0)}&to=${iso(D0 + DAY)}`);
    expect(dflt.body.step).toBe("5m");
    expect(dflt.body.points).toHaveLength(289);
  });

  it("daily: peak and time-weighted average per UTC day, the count carried across days", async () => {
    const d = await get(`/sites/hq/spaces/lobby/daily?from=${date(D0 - DAY)}&to=${date(D0 + DAY)}T12:00:00Z`);
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({ site: "hq", space: "lobby", from: date(D0 - DAY), to: date(D0 + DAY) });
    expect(d.body.days).toEqual([
      { date: date(D0 - DAY), peak: 0, average: 0 },
      { date: date(D0), peak: 5, average: (3 * 1 + 5 * 1.5 + 2 * 13.5) / 24 },
      { date: date(D0 + DAY), peak: 2, average: 2 },
    ]);
    expect((await get("/sites/hq/spaces/lobby/daily?from=2020-01-01&to=2024-01-01")).status).toBe(400);
  });

  it("site count from site_occupancy", async () => {
    expect((await get(`/sites/hq/count?at=${iso(D0 + 8.5 * H)}`)).body).toEqual({ site: "hq", count: 4, at: iso(D0 + 8.5 * H) });
    expect((await get("/sites/hq/count")).body.count).toBe(9);
    expect((await get("/sites/hq/count?at=2001-01-01")).body.count).toBe(0);
    expect((await get("/sites/elsewhere/count")).status).toBe(404);
  });

  it("/healthz is ok when NATS and InfluxDB answer", async () => {
    expect(await jsonOf(await fetch(`${h.url}/healthz`))).toEqual({ status: 200, body: { ok: true, nats: true, influx: true } });
  });

  it("runApi starts the process on cfg.bind:cfg.httpPort and stops cleanly", async () => {
    const cfg = loadConfig({
      dataDir: h.services.dataDir, natsUrl: h.services.natsUrl, influxUrl: h.services.influxUrl,
      httpPort: await freePort(), influxDb: h.cfg.influxDb, logLevel: "silent", adminToken: "run-api-token",
    });
    const api = await runApi(cfg);
    try {
      expect(api.port).toBe(cfg.httpPort);
      expect((await fetch(`http://127.0.0.1:${api.port}/healthz`)).status).toBe(200);
      const c = await jsonOf(await fetch(`http://127.0.0.1:${api.port}/api/v1/sites/hq/spaces/lobby/count?at=${iso(D0 + 9 * H)}`, { headers: { authorization: "Bearer run-api-token" } }));
      expect(c.body.count).toBe(5);
    } finally {
      await api.stop();
    }
    await expect(fetch(`http://127.0.0.1:${cfg.httpPort}/healthz`)).rejects.toThrow();
  });
});
