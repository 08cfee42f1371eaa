import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldType, InfluxDB, type IPoint } from "influx";
import { influxOptions } from "../../infra/provision.ts";
import { quantile, usualBand } from "../../api/occupancy/usual-band.ts";
import { startApiHarness, jsonOf, type ApiHarness } from "./api-harness.ts";

const H = 3_600_000;
const DAY = 24 * H;
const W = 7 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();
/** the hour the usual band is asked for: a Monday 10:00 UTC */
const T = Date.UTC(2026, 0, 12, 10);
/** flows: three days ago, midnight UTC (inside the raw retention of 30 days) */
const D0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;

describe("the usual band's arithmetic", () => {
  it("percentiles interpolate linearly between ranks", () => {
    expect(quantile([2, 10, 14, 30], 0.5)).toBe(12);
    expect(quantile([2, 10, 14, 30], 0.1)).toBeCloseTo(4.4, 10);
    expect(quantile([2, 10, 14, 30], 0.9)).toBeCloseTo(25.2, 10);
    expect(quantile([7], 0.1)).toBe(7);
  });

  it("an hour without a row holds the last count before it; before the first row there is no history", () => {
    const band = usualBand([T], [{ t: T - 2 * W, mean: 3, last: 4 }], undefined);
    // week 1: no row at T-1W, the count held is the last of T-2W; week 2: its own mean; weeks 3 and 4: not begun
    expect(band).toEqual({ weeks: 2, hours: [{ t: T, median: 3.5, p10: expect.closeTo(3.1, 10), p90: expect.closeTo(3.9, 10), weeks: 2 }] });
    expect(usualBand([T], [], undefined)).toEqual({ weeks: 0, hours: [] });
    expect(usualBand([T], [], 6)).toEqual({ weeks: 4, hours: [{ t: T, median: 6, p10: 6, p90: 6, weeks: 4 }] });
  });
});

describe("usual band and in/out flow (real influxd and nats-server)", () => {
  let h: ApiHarness;
  const get = async (path: string) => jsonOf(await h.fetch(`/api/v1${path}`));

  beforeAll(async () => {
    h = await startApiHarness({ influx: true });
    for (const site of ["mall", "other"]) {
      const put = await h.admin("PUT", `/api/v1/sites/${site}/topology`, {
        spaces: [{ id: "lobby", name: "Lobby" }, { id: "cafe", name: "Cafe" }, { id: "shop", name: "Shop" }, { id: "attic", name: "Attic" }],
        doorways: [
          { id: "front", entering_to: "lobby", exiting_to: "outside" },
          // a doorway whose DPU looks outwards: +1 is someone leaving the lobby for outside
          { id: "back", entering_to: "outside", exiting_to: "lobby" },
          { id: "cafe-door", entering_to: "cafe", exiting_to: "lobby" },
        ],
      });
      expect(put.status).toBe(200);
    }

    const writer = new InfluxDB({
      ...influxOptions(h.services.influxUrl, h.cfg.influxDb),
      schema: [
        { measurement: "site_occupancy_1h", tags: ["site"], fields: { peak: FieldType.INTEGER, mean: FieldType.FLOAT, last: FieldType.INTEGER } },
        { measurement: "occupancy_1h", tags: ["site", "space"], fields: { peak: FieldType.INTEGER, mean: FieldType.FLOAT, last: FieldType.INTEGER } },
        { measurement: "crossings", tags: ["site", "doorway", "device"], fields: { delta: FieldType.INTEGER } },
      ],
    });
    // hourly rollups as the continuous queries write them, at chosen hours 1..5 weeks before T
    const siteRow = (site: string, t: number, mean: number, last: number): IPoint =>
      ({ measurement: "site_occupancy_1h", tags: { site }, fields: { peak: Math.ceil(Math.max(mean, last)), mean, last }, timestamp: new Date(t) });
    const spaceRow = (space: string, t: number, mean: number, last: number): IPoint =>
      ({ measurement: "occupancy_1h", tags: { site: "mall", space }, fields: { peak: Math.ceil(Math.max(mean, last)), mean, last }, timestamp: new Date(t) });
    await writer.writePoints([
      siteRow("mall", T - W, 10, 11), siteRow("mall", T - W + H, 20, 21),
      siteRow("mall", T - 2 * W, 30, 35), // T-2W+1h: no row, 35 held all hour
      siteRow("mall", T - 3 * W, 14, 9), siteRow("mall", T - 3 * W + H, 8, 8),
      siteRow("mall", T - 4 * W, 2, 3), siteRow("mall", T - 4 * W + H, 40, 41),
      siteRow("mall", T - W + 2 * H, 999, 999), // the hour after the range: not used
      siteRow("other", T - W, 500, 500), siteRow("other", T - W + H, 500, 500), // another site
      // the lobby began two weeks before T
      spaceRow("lobby", T - 2 * W, 3, 4), spaceRow("lobby", T - W + H, 6, 6),
      // the cafe changed last five weeks before T: its count held ever since
      spaceRow("cafe", T - 5 * W, 9, 7),
    ], { retentionPolicy: "rollup" });

    // raw crossings around [D0 + 10h, D0 + 11h)
    let n = 0;
    const crossing = (site: string, doorway: string, delta: 1 | -1, t: number): IPoint =>
      ({ measurement: "crossings", tags: { site, doorway, device: `dpu-${doorway}` }, fields: { delta }, timestamp: (BigInt(t) * 1_000_000n + BigInt(n++)).toString() });
    const times = (k: number) => Array.from({ length: k }, (_, i) => D0 + 10 * H + 60_000 * (i + 1));
    await writer.writePoints([
      ...times(5).map((t) => crossing("mall", "front", 1, t)), ...times(2).map((t) => crossing("mall", "front", -1, t)),
      ...times(3).map((t) => crossing("mall", "back", 1, t)), ...times(1).map((t) => crossing("mall", "back", -1, t)),
      ...times(4).map((t) => crossing("mall", "cafe-door", 1, t)), ...times(1).map((t) => crossing("mall", "cafe-door", -1, t)),
      ...times(10).map((t) => crossing("mall", "old-door", 1, t)), // no longer in the topology
      crossing("mall", "front", 1, D0 + 10 * H - 1), crossing("mall", "front", 1, D0 + 11 * H), // just outside [from, to)
      ...times(7).map((t) => crossing("other", "front", 1, t)),
    ], { retentionPolicy: "raw", precision: "n" });
  });
  afterAll(async () => { await h?.stop(); });

  it("usual: median, p10 and p90 of the same weekday and hour over the last four weeks, per hour", async () => {
    const r = await get(`/sites/mall/usual?from=${iso(T)}&to=${iso(T + 2 * H)}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ site: "mall", from: iso(T), to: iso(T + 2 * H), value: "mean", of_weeks: 4, weeks: 4 });
    expect(r.body.space).toBeUndefined();
    const [first, second] = r.body.hours;
    expect(r.body.hours).toHaveLength(2);
    // 10:00: means 10, 30, 14, 2 -> sorted 2, 10, 14, 30
    expect(first).toMatchObject({ t: iso(T), median: 12, weeks: 4 });
    expect(first.p10).toBeCloseTo(4.4, 9);
    expect(first.p90).toBeCloseTo(25.2, 9);
    // 11:00: means 20, (35 held), 8, 40 -> sorted 8, 20, 35, 40
    expect(second).toMatchObject({ t: iso(T + H), median: 27.5, weeks: 4 });
    expect(second.p10).toBeCloseTo(11.6, 9);
    expect(second.p90).toBeCloseTo(38.5, 9);
    // a range inside one hour gives that hour
    const inside = await get(`/sites/mall/usual?from=${iso(T + 10 * 60_000)}&to=${iso(T + 20 * 60_000)}`);
    expect(inside.body.hours.map((x: { t: string }) => x.t)).toEqual([iso(T)]);
  });

  it("usual of a space: fewer weeks of history use what there is; a count held since long ago counts every week; none is empty", async () => {
    const lobby = (await get(`/sites/mall/usual?space=lobby&from=${iso(T)}&to=${iso(T + 2 * H)}`)).body;
    expect(lobby).toMatchObject({ site: "mall", space: "lobby", weeks: 2 });
    // 10:00: week 1 holds 4 (last of T-2W), week 2 has mean 3; 11:00: week 1 mean 6, week 2 holds 4
    expect(lobby.hours.map((x: { median: number }) => x.median)).toEqual([3.5, 5]);
    expect(lobby.hours[0].p10).toBeCloseTo(3.1, 9);
    expect(lobby.hours[1].p90).toBeCloseTo(5.8, 9);
    expect(lobby.hours.map((x: { weeks: number }) => x.weeks)).toEqual([2, 2]);

    const cafe = (await get(`/sites/mall/usual?space=cafe&from=${iso(T)}&to=${iso(T + H)}`)).body;
    expect(cafe).toMatchObject({ weeks: 4, hours: [{ t: iso(T), median: 7, p10: 7, p90: 7, weeks: 4 }] });

    expect((await get(`/sites/mall/usual?space=attic&from=${iso(T)}&to=${iso(T + H)}`)).body).toMatchObject({ weeks: 0, hours: [] });
    // four weeks before the first row of the lobby there is no history at all
    expect((await get(`/sites/mall/usual?space=lobby&from=${iso(T - 3 * W)}&to=${iso(T - 3 * W + H)}`)).body).toMatchObject({ weeks: 0, hours: [] });
  });

  it("usual: 400 for bad ranges, 404 for unknown sites and spaces", async () => {
    expect((await get(`/sites/mall/usual?from=${iso(T + H)}&to=${iso(T)}`)).status).toBe(400);
    expect((await get(`/sites/mall/usual?from=${iso(T)}&to=${iso(T + 32 * DAY)}`)).status).toBe(400);
    expect((await get("/sites/mall/usual?from=yesterday")).status).toBe(400);
    expect((await get("/sites/mall/usual?from=1900-01-01&to=1900-01-02")).status).toBe(400);
    expect((await get("/sites/nowhere/usual")).status).toBe(404);
    expect((await get("/sites/mall/usual?space=kitchen")).body).toMatchObject({ error: "not_found", reason: 'space "kitchen" is not part of site "mall"' });
    expect((await get("/sites/mall/usual?space=outside")).status).toBe(404);
    expect((await get("/sites/mall/usual?space=a%20b")).status).toBe(400);
  });

  it("flow: people in and out of the site and of each space, from the raw crossings in [from, to)", async () => {
    const r = await get(`/sites/mall/flow?from=${iso(D0 + 10 * H)}&to=${iso(D0 + 11 * H)}`);
    expect(r.status).toBe(200);
    // in: front +1 (5) and back -1 (1); out: front -1 (2) and back +1 (3)
    expect(r.body).toEqual({
      site: "mall", from: iso(D0 + 10 * H), to: iso(D0 + 11 * H), in: 6, out: 5,
      spaces: [
        // lobby in: front +1, back -1, cafe-door -1; out: front -1, back +1, cafe-door +1
        { space: "lobby", in: 5 + 1 + 1, out: 2 + 3 + 4 },
        { space: "cafe", in: 4, out: 1 },
        { space: "shop", in: 0, out: 0 },
        { space: "attic", in: 0, out: 0 },
      ],
    });
    const wider = (await get(`/sites/mall/flow?from=${iso(D0 + 10 * H - 1)}&to=${iso(D0 + 11 * H + 1)}`)).body;
    expect([wider.in, wider.out]).toEqual([8, 5]);
    const other = (await get(`/sites/other/flow?from=${iso(D0)}&to=${iso(D0 + DAY)}`)).body;
    expect([other.in, other.out]).toEqual([7, 0]);
    const none = (await get(`/sites/mall/flow?from=${iso(D0 - DAY)}&to=${iso(D0)}`)).body;
    expect([none.in, none.out]).toEqual([0, 0]);
  });

  it("flow: 400 for bad ranges, 404 for unknown sites", async () => {
    expect((await get(`/sites/mall/flow?from=${iso(D0 + H)}&to=${iso(D0)}`)).status).toBe(400);
    expect((await get(`/sites/mall/flow?from=${iso(D0 - 400 * DAY)}&to=${iso(D0)}`)).status).toBe(400);
    expect((await get("/sites/mall/flow?to=soon")).status).toBe(400);
    expect((await get("/sites/nowhere/flow")).status).toBe(404);
    // the default range is the last hour up to now
    const def = (await get("/sites/mall/flow")).body;
    expect(Date.parse(def.to) - Date.parse(def.from)).toBe(H);
  });
});
