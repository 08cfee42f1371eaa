import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldType, InfluxDB, type IPoint } from "influx";
import { influxOptions } from "../../infra/provision.ts";
import { trackSchemas } from "../../contracts/track-store.ts";
import { jsonOf, startApiHarness, type ApiHarness } from "./api-harness.ts";
import {
  cameraSeconds, DAY, generatePersons, H, iso, mallTopology, personPoint, visitPoint, type PersonSpec,
} from "./track-fixture.ts";

/**
 * /paths, /stats/distance, /stats/dwell and /heatmap over person points written into a real
 * influxd as the person actor writes them; every expected answer is computed here from the
 * written data.
 */

const MIN = 60_000;
/** three days ago, 10:00 UTC: inside the raw retention (30 days) */
const D0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY + 10 * H;
const FROM = D0 + 30 * MIN;
const TO = D0 + 90 * MIN;

const persons: PersonSpec[] = generatePersons(60, D0, 42);
/** started 5 h before FROM, still walking at FROM: found through the look-back */
const long: PersonSpec = {
  person: "long1", start: FROM - 5 * H, end: FROM + 10 * MIN, distance_m: 812.5,
  attrs: { upper: { value: "blue", conf: 0.9 }, lower: { value: "grey", conf: 0.7 } },
  path: [[FROM - 5 * H, 2, 2], [FROM - 2 * H, 30, 8], [FROM + 10 * MIN, 35, 15]],
  visits: [["hall", FROM - 5 * H, FROM - H], ["shop", FROM - H, FROM + 10 * MIN + 1000]],
  tracklets: [["cam-a:900", "cam-a", FROM - 5 * H, FROM - H], ["cam-b:901", "cam-b", FROM - H + 1, FROM + 10 * MIN]],
  ended: true,
};
/** ended one second before FROM: never part of the answer */
const gone: PersonSpec = { ...long, person: "gone1", start: FROM - 3 * H, end: FROM - 1000, path: [[FROM - 3 * H, 1, 1], [FROM - 1000, 5, 5]] };
const all = [...persons, long, gone];

const overlaps = (p: PersonSpec, from = FROM, to = TO) => p.start <= to && p.end >= from;
const matches = (p: PersonSpec, filters: Record<string, string>, minConf = 0) =>
  Object.entries(filters).every(([k, v]) => p.attrs[k]?.value === v && p.attrs[k]!.conf >= minConf);
const newestFirst = (ps: PersonSpec[]) => [...ps].sort((a, b) => b.start - a.start).map((p) => p.person);

/** R-7 percentile, written independently of the API's. */
function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const rank = p * (s.length - 1);
  const below = s[Math.floor(rank)]!, above = s[Math.ceil(rank)]!;
  return below + (above - below) * (rank - Math.floor(rank));
}

describe("camera-pipeline queries (real influxd and nats-server)", () => {
  let h: ApiHarness;
  const get = async (path: string) => {
    const r = await h.fetch(`/api/v1${path}`);
    const out = await jsonOf(r);
    return { ...out, queryId: r.headers.get("x-query-id") };
  };
  const range = `from=${iso(FROM)}&to=${iso(TO)}`;

  beforeAll(async () => {
    h = await startApiHarness({ influx: true });
    expect((await h.admin("PUT", "/api/v1/sites/mall/topology", mallTopology)).status).toBe(200);
    const w = new InfluxDB({
      ...influxOptions(h.services.influxUrl, h.cfg.influxDb),
      schema: [...trackSchemas(h.cfg.influxDb), { measurement: "occupancy", tags: ["site", "space"], fields: { count: FieldType.INTEGER } }],
    });
    await w.writePoints(all.map((p) => personPoint("mall", p)));
    // the cameras extracted upper, lower and bag all along (one point a minute is enough for coverage)
    await w.writePoints(cameraSeconds("mall", "cam-a", D0 - 6 * H, D0 + 3 * H, ["upper", "lower", "bag"], MIN));
  });
  afterAll(async () => { await h?.stop(); });

  it("paths: every filter, newest first, items with path, visits, tracklets and attributes", async () => {
    const r = await get(`/paths?site=mall&${range}&upper=blue`);
    expect(r.status).toBe(200);
    const want = all.filter((p) => overlaps(p) && matches(p, { upper: "blue" }));
    expect(want.length).toBeGreaterThan(5);
    expect(r.body.items.map((i: { person: string }) => i.person)).toEqual(newestFirst(want));
    expect(r.body.items.map((i: { person: string }) => i.person)).toContain("long1");
    expect(r.body).toMatchObject({ site: "mall", from: iso(FROM), to: iso(TO), order: "desc", count: want.length, next_cursor: null });
    expect(r.queryId).toBe(r.body.query_id);

    const p = want.find((x) => x.person === newestFirst(want)[0])!;
    expect(r.body.items[0]).toEqual({
      person: p.person, start: iso(p.start), end: iso(p.end), distance_m: p.distance_m, attributes: p.attrs, path: p.path,
      visits: p.visits.map(([space, enter, leave]) => ({ space, enter: iso(enter), leave: iso(leave) })),
      tracklets: p.tracklets.map(([tid, camera, from, to]) => ({ tid, camera, from: iso(from), to: iso(to) })),
      ended: p.ended,
    });

    const cases: Array<[string, (p: PersonSpec) => boolean]> = [
      ["upper=blue&min_confidence=0.5", (p) => matches(p, { upper: "blue" }, 0.5)],
      ["upper=red&lower=black", (p) => matches(p, { upper: "red", lower: "black" })],
      ["bag=yes", (p) => matches(p, { bag: "yes" })],
      ["bag=yes&min_confidence=0.4&lower=grey", (p) => matches(p, { bag: "yes", lower: "grey" }, 0.4)],
      ["zone=shop", (p) => p.visits.some((v) => v[0] === "shop")],
      ["zone=hall&upper=black", (p) => p.visits.some((v) => v[0] === "hall") && matches(p, { upper: "black" })],
      ["", () => true],
    ];
    for (const [q, keep] of cases) {
      const got = await get(`/paths?site=mall&${range}&limit=1000&${q}`);
      expect(got.status, q).toBe(200);
      expect(got.body.items.map((i: { person: string }) => i.person), q).toEqual(newestFirst(all.filter((p) => overlaps(p) && keep(p))));
    }
  });

  it("paths: pages follow next_cursor without gaps or repeats, in both orders", async () => {
    const want = all.filter((p) => overlaps(p));
    for (const order of ["desc", "asc"] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r = await get(`/paths?site=mall&${range}&limit=7&order=${order}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(7);
        seen.push(...r.body.items.map((i: { person: string }) => i.person));
        cursor = r.body.next_cursor;
        pages++;
      } while (cursor);
      const expected = newestFirst(want);
      expect(seen).toEqual(order === "desc" ? expected : [...expected].reverse());
      expect(pages).toBe(Math.ceil(want.length / 7));
    }
    // a cursor without from/to keeps its first page's range; with other filters it is refused
    const first = await get(`/paths?site=mall&${range}&limit=3&upper=blue`);
    const next = await get(`/paths?site=mall&limit=3&upper=blue&cursor=${first.body.next_cursor}`);
    expect(next.body.from).toBe(iso(FROM));
    expect(next.body.items[0].person).toBe(newestFirst(all.filter((p) => overlaps(p) && matches(p, { upper: "blue" })))[3]);
    const wrong = await get(`/paths?site=mall&${range}&limit=3&upper=red&cursor=${first.body.next_cursor}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.reason).toMatch(/cursor belongs to another query/);
  });

  it("stats/distance: count, mean, median, p90, min, max of the matching persons", async () => {
    for (const q of ["", "upper=red", "zone=shop&min_confidence=0.3&lower=blue"]) {
      const r = await get(`/stats/distance?site=mall&${range}&${q}`);
      expect(r.status, q).toBe(200);
      const filters = Object.fromEntries(new URLSearchParams(q));
      const zone = filters.zone;
      const minConf = Number(filters.min_confidence ?? 0);
      delete filters.zone; delete filters.min_confidence;
      const d = all.filter((p) => overlaps(p) && matches(p, filters, minConf) && (!zone || p.visits.some((v) => v[0] === zone))).map((p) => p.distance_m);
      expect(d.length, q).toBeGreaterThan(0);
      expect(r.body.count).toBe(d.length);
      expect(r.body.mean_m).toBeCloseTo(d.reduce((a, b) => a + b, 0) / d.length, 2);
      expect(r.body.median_m).toBeCloseTo(pct(d, 0.5), 2);
      expect(r.body.p90_m).toBeCloseTo(pct(d, 0.9), 2);
      expect(r.body.min_m).toBeCloseTo(Math.min(...d), 2);
      expect(r.body.max_m).toBeCloseTo(Math.max(...d), 2);
    }
    const none = await get(`/stats/distance?site=mall&from=${iso(D0 - 20 * H)}&to=${iso(D0 - 19 * H)}`);
    expect(none.body).toMatchObject({ count: 0, mean_m: null, median_m: null, p90_m: null });
  });

  it("heatmap: cell counts sum to the person-seconds of the matching paths", async () => {
    const r = await get(`/heatmap?site=mall&${range}&upper=blue&cell=1`);
    expect(r.status).toBe(200);
    // the floor plan is the spaces' outlines: 0..40 x 0..20 m
    expect(r.body).toMatchObject({ cell: 1, origin: [0, 0], width: 41, height: 21, outside_s: 0 });
    const want = all.filter((p) => overlaps(p) && matches(p, { upper: "blue" }));
    let seconds = 0;
    for (const p of want) {
      const a = Math.max(p.path[0]![0], FROM), b = Math.min(p.path[p.path.length - 1]![0], TO);
      for (let t = Math.ceil(a / 1000) * 1000; t <= b; t += 1000) seconds++;
    }
    const sum = (r.body.counts as number[][]).flat().reduce((x, y) => x + y, 0);
    expect(sum).toBe(seconds);
    expect(r.body.person_s).toBe(seconds);
    expect(r.body.persons).toBe(want.length);
    // a person at a path point is in that point's cell at that second
    const p = want.find((x) => x.path.some(([t]) => t >= FROM && t <= TO))!;
    const [, x, y] = p.path.find(([t]) => t >= FROM && t <= TO)!;
    expect(r.body.counts[Math.floor(y)][Math.floor(x)]).toBeGreaterThan(0);
    const coarse = await get(`/heatmap?site=mall&${range}&upper=blue&cell=5`);
    expect(coarse.body).toMatchObject({ width: 9, height: 5, person_s: seconds });
  });

  it("stats/dwell: visits that entered the space within the range", async () => {
    const V0 = D0 + 5 * H;
    const visits: Array<[string, number, number]> = [
      ["v1", V0, V0 + 30_000], ["v2", V0 + 60_000, V0 + 180_000], ["v3", V0 + 90_000, V0 + 100_000],
      ["v4", V0 + 120_000, V0 + 720_000], ["v5", V0 + 10 * MIN, V0 + 11 * MIN],
    ];
    await new InfluxDB({ ...influxOptions(h.services.influxUrl, h.cfg.influxDb), schema: trackSchemas(h.cfg.influxDb) })
      .writePoints([...visits.map(([p, a, b]) => visitPoint("mall", "hall", p, a, b)), visitPoint("mall", "shop", "v6", V0, V0 + 5000)]);
    const r = await get(`/stats/dwell?site=mall&space=hall&from=${iso(V0)}&to=${iso(V0 + 5 * MIN)}`);
    expect(r.status).toBe(200);
    const d = visits.filter(([, a]) => a <= V0 + 5 * MIN).map(([, a, b]) => (b - a) / 1000);
    expect(r.body).toMatchObject({ site: "mall", space: "hall", count: d.length });
    expect(r.body.mean_s).toBeCloseTo(d.reduce((a, b) => a + b, 0) / d.length, 3);
    expect(r.body.median_s).toBeCloseTo(pct(d, 0.5), 3);
    expect(r.body.p90_s).toBeCloseTo(pct(d, 0.9), 3);
    expect((await get(`/stats/dwell?site=mall&space=attic&from=${iso(V0)}`)).status).toBe(400);
  });

  it("refuses bad parameters with 400, unknown sites with 404, each with a reason and a query id", async () => {
    const cases: Array<[string, number, RegExp]> = [
      ["/paths?site=mall&upper=bleu", 400, /upper must be one of/],
      ["/paths?site=mall&limit=5000", 400, /limit must be at most 1000/],
      [`/paths?site=mall&from=${iso(TO)}&to=${iso(FROM)}`, 400, /from must not be after to/],
      ["/paths?site=mall&zone=attic", 400, /zone: "attic" is not a space of site "mall"/],
      ["/paths?site=mall&cursor=abc", 400, /cursor is not valid/],
      ["/paths?site=mall&Bad-Name=1", 400, /unknown parameter/],
      ["/paths", 400, /site is required/],
      ["/stats/distance?site=mall&cell=2", 400, /cell: not a parameter/],
      ["/heatmap?site=mall&cell=0.01", 400, /cell must be at least 0.1/],
      ["/paths?site=nowhere", 404, /site "nowhere" has no topology/],
    ];
    for (const [path, status, reason] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(status);
      expect(r.body.reason, path).toMatch(reason);
      expect(r.body.query_id, path).toMatch(/^[0-9a-z]{19}$/);
      expect(r.queryId, path).toBe(r.body.query_id);
    }
  });

  it("refuses ranges beyond the raw retention with 410, not an empty answer", async () => {
    const old = iso(Date.now() - 40 * DAY);
    for (const path of [
      `/paths?site=mall&from=${old}&to=${iso(Date.now() - 39 * DAY)}`, `/stats/distance?site=mall&from=${old}&to=${iso(Date.now() - 39 * DAY)}`,
      `/heatmap?site=mall&from=${old}&to=${iso(Date.now() - 39 * DAY)}`, `/stats/dwell?site=mall&space=hall&from=${old}&to=${iso(Date.now() - 39 * DAY)}`,
      `/sites/mall/zones/hall/occupancy?at=${old}`, `/sites/mall/lines?from=${old}&to=${iso(Date.now() - 39 * DAY)}`,
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(410);
      expect(r.body.error).toBe("beyond_retention");
      expect(r.body.reason).toMatch(/data older than 30d is not kept/);
    }
  });
});

describe("camera-based zones, lines and camera health (real influxd)", () => {
  let h: ApiHarness;
  let w: InfluxDB;
  const get = async (path: string) => jsonOf(await h.fetch(`/api/v1${path}`));
  const Z0 = D0 + 6 * H;
  /** the camera count of the hall during second k after Z0 (seconds 50..59 have no point: nobody) */
  const f = (k: number) => (k >= 50 && k < 60 ? 0 : k % 7);

  beforeAll(async () => {
    h = await startApiHarness({ influx: true });
    expect((await h.admin("PUT", "/api/v1/sites/mall/topology", mallTopology)).status).toBe(200);
    w = new InfluxDB({
      ...influxOptions(h.services.influxUrl, h.cfg.influxDb),
      schema: [...trackSchemas(h.cfg.influxDb), { measurement: "occupancy", tags: ["site", "space"], fields: { count: FieldType.INTEGER } }],
    });
    const pts: IPoint[] = [];
    for (let k = 0; k < 120; k++) {
      if (k >= 50 && k < 60) continue;
      pts.push({ measurement: "zone_occupancy", tags: { site: "mall", space: "hall" }, fields: { count: f(k) }, timestamp: new Date(Z0 + k * 1000) });
    }
    // the DPU-based count of the hall (a step function)
    pts.push({ measurement: "occupancy", tags: { site: "mall", space: "hall" }, fields: { count: 2 }, timestamp: new Date(Z0 - H) });
    pts.push({ measurement: "occupancy", tags: { site: "mall", space: "hall" }, fields: { count: 4 }, timestamp: new Date(Z0 + 25_000) });
    for (const [k, i, o] of [[3, 1, 0], [10, 2, 1], [70, 0, 3], [200, 5, 5]] as const) {
      pts.push({ measurement: "zone_line", tags: { site: "mall", space: "hall", line: "door" }, fields: { in: i, out: o }, timestamp: new Date(Z0 + k * 1000) });
    }
    await w.writePoints(pts);
  });
  afterAll(async () => { await h?.stop(); });

  it("occupancy at an instant is the count of that second (0 without a point)", async () => {
    expect((await get(`/sites/mall/zones/hall/occupancy?at=${iso(Z0 + 10_500)}`)).body).toEqual({ site: "mall", space: "hall", at: iso(Z0 + 10_500), count: f(10), source: "camera" });
    expect((await get(`/sites/mall/zones/hall/occupancy?at=${iso(Z0 + 55_000)}`)).body.count).toBe(0);
    expect((await get(`/sites/mall/zones/hall/occupancy?at=${iso(Z0 + 119_999)}`)).body.count).toBe(f(119));
    expect((await get(`/sites/mall/zones/shop/occupancy?at=${iso(Z0)}`)).body.count).toBe(0);
    expect((await get("/sites/mall/zones/attic/occupancy")).status).toBe(404);
    expect((await get(`/sites/mall/zones/hall/occupancy?at=${iso(Z0)}&step=1m`)).status).toBe(400);
  });

  it("occupancy series sample the count at each step, over short and long ranges", async () => {
    const s = await get(`/sites/mall/zones/hall/occupancy?from=${iso(Z0)}&to=${iso(Z0 + 110_000)}&step=10s`);
    expect(s.status).toBe(200);
    expect(s.body.points).toEqual(Array.from({ length: 12 }, (_, i) => ({ t: iso(Z0 + i * 10_000), count: f(i * 10) })));
    // 10 hours at 30 s: sampled second by second rather than read whole
    const long = await get(`/sites/mall/zones/hall/occupancy?from=${iso(Z0 - 10 * H)}&to=${iso(Z0 + 119_000)}&step=30s`);
    expect(long.status).toBe(200);
    const pts = long.body.points as Array<{ t: string; count: number }>;
    expect(pts).toHaveLength(1200 + 4);
    for (const p of pts) {
      const k = (Date.parse(p.t) - Z0) / 1000;
      expect(p.count, p.t).toBe(k >= 0 && k < 120 ? f(k) : 0);
    }
  });

  it("camera-vs-dpu: both counts and their difference at each step", async () => {
    const r = await get(`/sites/mall/zones/hall/camera-vs-dpu?from=${iso(Z0)}&to=${iso(Z0 + 60_000)}&step=10s`);
    expect(r.status).toBe(200);
    const want = Array.from({ length: 7 }, (_, i) => {
      const camera = f(i * 10);
      const dpu = i * 10 >= 25 ? 4 : 2;
      return { t: iso(Z0 + i * 10_000), camera, dpu, difference: camera - dpu };
    });
    expect(r.body.points).toEqual(want);
    expect(r.body.max_abs_difference).toBe(Math.max(...want.map((p) => Math.abs(p.difference))));
  });

  it("lines: in and out per counting line; lines of the topology without data count 0", async () => {
    const r = await get(`/sites/mall/lines?from=${iso(Z0)}&to=${iso(Z0 + 100_000)}`);
    expect(r.status).toBe(200);
    expect(r.body.lines).toEqual([{ line: "door", space: "hall", camera: "cam-a", in: 3, out: 4 }]);
    const quiet = await get(`/sites/mall/lines?from=${iso(Z0 - 2 * H)}&to=${iso(Z0 - H)}`);
    expect(quiet.body.lines).toEqual([{ line: "door", space: "hall", camera: "cam-a", in: 0, out: 0 }]);
  });

  it("cameras: state, last seen, fps and detections per second over the last minute", async () => {
    const now = Date.now();
    const pts: IPoint[] = [
      { measurement: "camera_status", tags: { site: "mall", camera: "cam-a" }, fields: { state: "online", fps: 12.5, width: 1920, height: 1080, uptime_s: 100 }, timestamp: new Date(now - 5000) },
      { measurement: "camera_status", tags: { site: "mall", camera: "cam-b" }, fields: { state: "online", fps: 10 }, timestamp: new Date(now - 10 * MIN) },
      { measurement: "camera_status", tags: { site: "mall", camera: "cam-b" }, fields: { state: "offline" }, timestamp: new Date(now - 9 * MIN) },
    ];
    const secondNow = Math.floor(now / 1000) * 1000;
    pts.push(...cameraSeconds("mall", "cam-a", secondNow - 30_000, secondNow, [], 1000, 3));
    await w.writePoints(pts);
    const r = await get("/sites/mall/cameras");
    expect(r.status).toBe(200);
    const byId: Record<string, { last_seen: string }> = Object.fromEntries((r.body.cameras as Array<{ camera: string; last_seen: string }>).map((c) => [c.camera, c]));
    expect(byId["cam-a"]).toMatchObject({ state: "online", fps: (30 * 10) / 60, detections_per_s: (30 * 3) / 60, reported_fps: 12.5, resolution: [1920, 1080] });
    expect(Date.parse(byId["cam-a"]!.last_seen)).toBeGreaterThanOrEqual(secondNow - 1000);
    expect(byId["cam-b"]).toMatchObject({ state: "offline", last_seen: iso(now - 9 * MIN), fps: 0 });
    expect(byId["cam-c"]).toMatchObject({ state: "unknown", last_seen: null });
    expect((await get("/sites/mall/cameras?x=1")).status).toBe(400);
    expect((await get("/sites/nowhere/cameras")).status).toBe(404);
  });
});
