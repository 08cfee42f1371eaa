import { describe, expect, it } from "vitest";
import type { PersonUpdate, TrackUpdate } from "../../contracts/events.ts";
import type { Snapshot } from "../../contracts/live-protocol.ts";
import type { WallPlan } from "../../contracts/wall.ts";
import { Backoff } from "../../dashboards/wall/page/backoff.ts";
import { Coalescer, FrameLoop } from "../../dashboards/wall/page/coalesce.ts";
import { contrast, garmentColour, garmentOutline, GARMENT, GARMENT_UNKNOWN, hex, occupancyColour, occupancyLevel, occupancyRgb, OCCUPANCY_STOPS } from "../../dashboards/wall/page/colour.ts";
import { describeFilter, dwellBySpace, explorerQuery } from "../../dashboards/wall/page/explorer-logic.ts";
import { agoLabel, clock, clockHm, countLabel, durationLabel, metresLabel, percentLabel, rateLabel, signed } from "../../dashboards/wall/page/format.ts";
import { historyFrame, liveFrame, peopleAt } from "../../dashboards/wall/page/frame.ts";
import { IngestRates, PERSON_FADE_MS, PERSON_SILENT_MS, WallModel } from "../../dashboards/wall/page/model.ts";
import { centroid, labelSizes, viewBoxOf } from "../../dashboards/wall/page/plan-geometry.ts";
import { parseUsual, type PathItem } from "../../dashboards/wall/page/rest.ts";
import { StepSeries, sumSamples, usualAt } from "../../dashboards/wall/page/series.ts";
import { gridColumns, sparkGeometry } from "../../dashboards/wall/page/tiles-view.ts";
import { instantOf } from "../../dashboards/wall/page/timebar.ts";
import { positionAt, trailBefore, Trails } from "../../dashboards/wall/page/trails.ts";
import { convexHull, wallPlanOf } from "../../dashboards/wall/wall-plan.ts";
import { plazaTopology } from "../../firmware-sim/vtest-plaza.ts";

/** The wall page's pure logic (no DOM): colours, text formats, trails, coalescing, the model. */

const local = (h: number, m: number, s: number) => new Date(2026, 10, 23, h, m, s).getTime();

describe("time and number formats", () => {
  it("hh:mm:ss and hh:mm in local 24-hour time", () => {
    expect(clock(local(9, 5, 7))).toBe("09:05:07");
    expect(clock(local(23, 59, 59))).toBe("23:59:59");
    expect(clockHm(local(0, 3, 59))).toBe("00:03");
  });

  it("how long ago, and durations", () => {
    const now = local(12, 0, 0);
    expect(agoLabel(now - 2000, now)).toBe("now");
    expect(agoLabel(now - 45_000, now)).toBe("\u221245 s");
    expect(agoLabel(now - 12 * 60_000, now)).toBe("\u221212 min");
    expect(agoLabel(now - (2 * 60 + 5) * 60_000, now)).toBe("\u22122 h 05 min");
    expect(durationLabel(44.6)).toBe("45 s");
    expect(durationLabel(200)).toBe("3 min 20 s");
    expect(durationLabel(900)).toBe("15 min");
    expect(durationLabel(72 * 60)).toBe("1 h 12 min");
    expect(durationLabel(null)).toBe("—");
  });

  it("counts, signed differences, rates, metres, percentages", () => {
    expect(countLabel(1240)).toBe("1,240");
    expect(countLabel(null)).toBe("—");
    expect(signed(2)).toBe("+2");
    expect(signed(-3)).toBe("\u22123");
    expect(signed(0)).toBe("0");
    expect(rateLabel(0)).toBe("0");
    expect(rateLabel(3.44)).toBe("3.4");
    expect(rateLabel(128.2)).toBe("128");
    expect(rateLabel(12_500)).toBe("13 k");
    expect(metresLabel(77.4)).toBe("77 m");
    expect(metresLabel(1430)).toBe("1.4 km");
    expect(percentLabel(30, 40)).toBe("75 %");
    expect(percentLabel(30, null)).toBe("—");
  });
});

describe("colours", () => {
  it("occupancy against capacity: the stops at their ratios, interpolated between, clamped beyond", () => {
    for (const [ratio, rgb] of OCCUPANCY_STOPS) expect(occupancyRgb(ratio)).toEqual(rgb);
    const mid = occupancyRgb(0.25);
    const [a, b] = [OCCUPANCY_STOPS[0]![1], OCCUPANCY_STOPS[1]![1]];
    for (let i = 0; i < 3; i++) expect(mid[i]).toBeCloseTo((a[i]! + b[i]!) / 2, 6);
    expect(occupancyRgb(5)).toEqual(OCCUPANCY_STOPS[OCCUPANCY_STOPS.length - 1]![1]);
    expect(occupancyColour(30, 40)).toBe(hex(occupancyRgb(0.75)));
    expect(occupancyColour(3, null)).toBe(occupancyColour(300, undefined));
  });

  it("gets warmer as a space fills (red grows, blue does not)", () => {
    let prev = occupancyRgb(0);
    for (let r = 0.05; r <= 1.25; r += 0.05) {
      const c = occupancyRgb(r);
      expect(c[0]).toBeGreaterThanOrEqual(prev[0] - 1e-9);
      prev = c;
    }
  });

  it("names the level", () => {
    expect(occupancyLevel(10, 40)).toBe("free");
    expect(occupancyLevel(20, 40)).toBe("busy");
    expect(occupancyLevel(32, 40)).toBe("near");
    expect(occupancyLevel(40, 40)).toBe("near");
    expect(occupancyLevel(41, 40)).toBe("over");
    expect(occupancyLevel(41, null)).toBe("none");
  });

  it("garment colours: every extractor colour has one, unknown values a neutral one, dots an outline that stands out", () => {
    for (const c of ["black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "beige"]) {
      expect(garmentColour(c)).toBe(GARMENT[c]);
    }
    expect(garmentColour("tartan")).toBe(GARMENT_UNKNOWN);
    expect(garmentColour(undefined)).toBe(GARMENT_UNKNOWN);
    const rgb = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
    for (const c of Object.keys(GARMENT)) expect(contrast(rgb(GARMENT[c]!), rgb(garmentOutline(c)))).toBeGreaterThan(1.5);
  });
});

describe("trails of live people", () => {
  it("keeps the newest positions within the time window and the point budget", () => {
    const t = new Trails({ keepMs: 5000, maxPoints: 4, minStepM: 0.1 });
    for (let i = 0; i <= 10; i++) t.add("p1", 1000 * i, i, 0);
    expect(t.get("p1").map((p) => p[0])).toEqual([7000, 8000, 9000, 10_000]);
    const w = new Trails({ keepMs: 3000, maxPoints: 100, minStepM: 0.1 });
    for (let i = 0; i <= 10; i++) w.add("p1", 1000 * i, i, 0);
    expect(w.get("p1").map((p) => p[0])).toEqual([7000, 8000, 9000, 10_000]);
  });

  it("ignores positions older than the newest (a replay after a reconnect) and moves a standing person's point", () => {
    const t = new Trails({ keepMs: 10_000, maxPoints: 10, minStepM: 0.5 });
    expect(t.add("p", 1000, 0, 0)).toBe(true);
    expect(t.add("p", 2000, 3, 0)).toBe(true);
    expect(t.add("p", 1500, 1, 0)).toBe(false);
    expect(t.add("p", 2000, 9, 9)).toBe(false);
    expect(t.add("p", 3000, 3.1, 0)).toBe(true);
    expect(t.get("p")).toEqual([[1000, 0, 0], [3000, 3.1, 0]]);
    t.remove("p");
    expect(t.get("p")).toEqual([]);
  });

  it("interpolates a recorded path at an instant and cuts the trail behind it", () => {
    const path = [[0, 0, 0], [10_000, 10, 0], [20_000, 10, 10]] as const;
    expect(positionAt(path, 5000)).toEqual([5, 0]);
    expect(positionAt(path, 15_000)).toEqual([10, 5]);
    expect(positionAt(path, -1)).toBeUndefined();
    expect(positionAt(path, 20_001)).toBeUndefined();
    expect(trailBefore(path, 15_000, 8000)).toEqual([[10_000, 10, 0], [15_000, 10, 5]]);
  });
});

describe("coalescing and repaints", () => {
  it("keeps only the newest value per entity until flushed", () => {
    const c = new Coalescer<string, number>();
    c.set("lobby", 1);
    c.set("cafe", 5);
    c.set("lobby", 2);
    c.set("lobby", 3);
    expect([...c.take()]).toEqual([["lobby", 3], ["cafe", 5]]);
    expect(c.coalesced).toBe(2);
    expect(c.size).toBe(0);
    expect([...c.take()]).toEqual([]);
  });

  it("paints once per frame however often it is asked", () => {
    const frames: Array<() => void> = [];
    let paints = 0;
    const loop = new FrameLoop(() => { paints++; }, (cb) => frames.push(cb));
    for (let i = 0; i < 50; i++) loop.request();
    expect(frames).toHaveLength(1);
    frames.shift()!();
    expect(paints).toBe(1);
    loop.request();
    expect(frames).toHaveLength(1);
  });
});

describe("reconnect backoff", () => {
  it("doubles from the initial delay up to the maximum, with bounded jitter, and starts again after a success", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 8000, factor: 2, jitter: 0, random: () => 0.5 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 8000, 8000]);
    b.reset();
    expect(b.next()).toBe(1000);
    const lo = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0 });
    const hi = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0.999999 });
    expect(lo.next()).toBe(800);
    expect(hi.next()).toBe(1200);
  });
});

describe("series for the chart and the sparklines", () => {
  it("is a step function: late points go where they belong, the same instant replaces", () => {
    const s = new StepSeries(3_600_000);
    s.replace([{ t: 1000, count: 1 }, { t: 3000, count: 3 }]);
    s.set(2000, 2);
    s.set(3000, 4);
    s.set(5000, 5);
    expect(s.points()).toEqual([[1000, 1], [2000, 2], [3000, 4], [5000, 5]]);
    expect(s.valueAt(999)).toBeNull();
    expect(s.valueAt(2999)).toBe(2);
    expect(s.sample(0, 6000, 1500)).toEqual([null, 1, 4, 4, 5]);
  });

  it("prunes what left the window but keeps the value holding at its start", () => {
    const s = new StepSeries(10_000);
    for (let t = 0; t <= 30_000; t += 5000) s.set(t, t / 1000);
    s.prune(30_000);
    expect(s.points()[0]).toEqual([20_000, 20]);
    expect(s.valueAt(20_000)).toBe(20);
  });

  it("sums spaces point by point, and finds the usual of an hour", () => {
    expect(sumSamples([[null, 1, 2], [null, null, 3]])).toEqual([null, 1, 5]);
    const hours = [{ t: 0, median: 10, p10: 5, p90: 15 }, { t: 3_600_000, median: 20, p10: 10, p90: 30 }];
    expect(usualAt(hours, 3_599_999)?.median).toBe(10);
    expect(usualAt(hours, 3_600_000)?.median).toBe(20);
    expect(usualAt(hours, 7_200_000)).toBeUndefined();
  });

  it("reads the usual route's answer whatever its list is called", () => {
    const u = parseUsual({ weeks: 4, hours: [{ t: "2026-11-23T11:00:00Z", median: 30, p10: 20, p90: 41 }, { hour: "2026-11-23T10:00:00Z", median: 25, p10: null, p90: 33 }, { t: "nonsense", median: 1 }] });
    expect(u).toEqual({ weeks: 4, hours: [
      { t: Date.parse("2026-11-23T10:00:00Z"), median: 25, p10: 25, p90: 33 },
      { t: Date.parse("2026-11-23T11:00:00Z"), median: 30, p10: 20, p90: 41 },
    ] });
    expect(parseUsual({ error: "not_found" })).toBeUndefined();
  });

  it("sparklines scale to their maximum, and show the capacity when it is near", () => {
    const g = sparkGeometry([null, 0, 5, 10], 12);
    expect(g.points.split(" ")).toHaveLength(3);
    expect(g.capY).not.toBeNull();
    expect(sparkGeometry([0, 5, 10], 1000).capY).toBeNull();
    expect(sparkGeometry([null, null], 10).points).toBe("");
  });
});

const plan: WallPlan = {
  v: 1, site: "mall", dpus: 2, updatedAt: "2026-11-23T10:00:00Z",
  spaces: [
    { id: "lobby", name: "Lobby", capacity: 10, polygon: null, dpu: true, cameras: [] },
    { id: "cafe", name: "Café <b>", capacity: null, polygon: [[0, 0], [4, 0], [4, 3]], dpu: true, cameras: ["c1"] },
    { id: "yard", name: "Yard", capacity: 5, polygon: [[0, 0], [4, 0], [4, 3]], dpu: false, cameras: ["c1"] },
  ],
  cameras: [{ id: "c1", sees: ["cafe", "yard"], at: [1, 1], heading: [1, 0], view: null }],
};

const person = (id: string, ts: number, x: number, y: number, extra: Partial<PersonUpdate> = {}): PersonUpdate => ({
  type: "person.update", site: "mall", person: id, at: [ts, x, y], space: "cafe", distance_m: 1,
  attrs: { upper: { value: "blue", conf: 0.8 } }, ended: false, ...extra,
});

describe("the wall's model", () => {
  it("applies a snapshot, then updates in order; an older count than held is ignored", () => {
    const m = new WallModel(plan);
    const snap: Snapshot = {
      v: 1, t: "snapshot", site: "mall", seq: 10, now: 5000, total: { count: 7, at: 4000 },
      spaces: [{ space: "lobby", name: "Lobby", count: 4, capacity: 10, at: 4000 }, { space: "cafe", name: "Café", count: 3, capacity: null, at: 3000 }],
      people: [person("p1", 4000, 1, 1)], devices: [{ device: "c1", kind: "camera", state: "online", lastSeen: 4000 }],
      alerts: [{ type: "alert.capacity", site: "mall", space: "lobby", state: "over", count: 11, capacity: 10, at: 4000 }],
    };
    m.applySnapshot(snap, 4000);
    expect(m.clockOffset).toBe(1000);
    expect(m.countOf("lobby")).toBe(4);
    expect(m.siteTotal()).toBe(7);
    expect(m.people.size).toBe(1);
    expect(m.openAlerts.has("lobby")).toBe(true);
    m.applyEvent({ type: "occupancy.changed", site: "mall", space: "lobby", count: 5, at: 6000 }, 6100);
    m.applyEvent({ type: "occupancy.changed", site: "mall", space: "lobby", count: 2, at: 5500 }, 6200);
    expect(m.countOf("lobby")).toBe(5);
    m.applyEvent({ type: "alert.capacity", site: "mall", space: "lobby", state: "cleared", count: 9, capacity: 10, at: 7000 }, 7000);
    expect(m.openAlerts.size).toBe(0);
    expect(m.alertLog[0]!.alert.state).toBe("cleared");
    // events of another site change nothing
    m.applyEvent({ type: "site_occupancy.changed", site: "other", count: 99, at: 9000 }, 9000);
    expect(m.siteTotal()).toBe(7);
  });

  it("counts a camera-only space by its camera, a space with DPUs by its DPU, and a site without DPUs by its cameras", () => {
    const m = new WallModel(plan);
    m.setDpu("cafe", 3, null, 1000);
    m.setCamera("cafe", 5, 1000);
    m.setCamera("yard", 2, 1000);
    expect(m.countOf("cafe")).toBe(3);
    expect(m.countOf("yard")).toBe(2);
    const camOnly = new WallModel({ ...plan, dpus: 0 });
    camOnly.setCamera("cafe", 5, 1000);
    camOnly.setCamera("yard", 2, 1000);
    expect(camOnly.siteTotal()).toBe(7);
    expect(camOnly.siteSeries.valueAt(1000)).toBe(7);
  });

  it("lists the spaces over capacity from the counts themselves", () => {
    const m = new WallModel(plan);
    m.setDpu("lobby", 11, null, 1000);
    m.setCamera("yard", 5, 1000);
    expect(m.overCapacity().map((s) => s.def.id)).toEqual(["lobby"]);
  });

  it("draws people with their trails, lets ended ones fade and drops silent ones", () => {
    const m = new WallModel(plan);
    m.applyEvent(person("p1", 1000, 0, 0), 1000);
    m.applyEvent(person("p1", 2000, 1, 0), 2000);
    m.applyEvent(person("p2", 2000, 5, 5, { attrs: {} }), 2000);
    m.applyEvent(person("p2", 2500, 5, 6, { ended: true }), 2500);
    const f = liveFrame(m, 3000);
    const p1 = f.people.find((p) => p.id === "p1")!;
    expect(p1).toMatchObject({ x: 1, y: 0, upper: "blue", ended: false });
    expect(p1.trail).toEqual([[0, 0], [1, 0]]);
    expect(f.people.find((p) => p.id === "p2")!.ended).toBe(true);
    m.prunePeople(2500 + PERSON_FADE_MS + 1);
    expect([...m.people.keys()]).toEqual(["p1"]);
    m.prunePeople(2000 + PERSON_SILENT_MS + 1);
    expect(m.people.size).toBe(0);
    expect(m.trails.size).toBe(0);
  });

  it("sums the newest ingest window of every broker, forgetting brokers gone quiet", () => {
    const r = new IngestRates();
    r.update({ type: "ingest.rate", site: "mall", broker: "a", messages: { crossing: 10, detections: 40 }, at: 10_000, windowMs: 5000 });
    r.update({ type: "ingest.rate", site: "mall", broker: "a", messages: { crossing: 99 }, at: 5000, windowMs: 5000 });
    r.update({ type: "ingest.rate", site: "mall", broker: "b", messages: { crossing: 5 }, at: 9000, windowMs: 5000 });
    expect(r.perSecond(10_000)).toBe(11);
    expect(r.perSecond(24_500)).toBe(10);
    expect(r.perSecond(60_000)).toBeNull();
  });

  it("keeps the newest track update per camera for the camera tile", () => {
    const m = new WallModel(plan);
    const t = (seq: number): TrackUpdate => ({ type: "track.update", site: "mall", camera: "c1", seq, frameTs: seq, receivedAt: seq, tracks: [], boxes: [["t1", 0, 0, 10, 10]] });
    m.applyEvent(t(1), 1);
    m.applyEvent(t(2), 2);
    expect(m.tracks.get("c1")!.seq).toBe(2);
    expect(m.dirty.has("tracks")).toBe(true);
  });
});

describe("a past moment", () => {
  it("people from their recorded paths, counts as the API answered them", () => {
    const item = (person: string, path: Array<[number, number, number]>): PathItem => ({
      person, start: path[0]![0], end: path[path.length - 1]![0], distance_m: 1, attributes: { upper: { value: "red", conf: 1 } }, path, visits: [], ended: true,
    });
    const people = peopleAt([item("p1", [[0, 0, 0], [10_000, 10, 0]]), item("p2", [[20_000, 0, 0], [30_000, 1, 1]])], 5000);
    expect(people).toEqual([{ id: "p1", x: 5, y: 0, upper: "red", trail: [[0, 0], [5, 0]], ended: false }]);
    const f = historyFrame(plan, { at: 5000, dpu: new Map([["lobby", 4], ["cafe", 2]]), camera: new Map([["cafe", 3], ["yard", 1]]), total: 6 }, people);
    expect(f.spaces.get("cafe")).toEqual({ shown: 2, dpu: 2, camera: 3 });
    expect(f.spaces.get("yard")).toEqual({ shown: 1, dpu: null, camera: 1 });
    expect(f.total).toBe(6);
    expect(historyFrame({ ...plan, dpus: 0 }, { at: 5000, dpu: new Map(), camera: new Map([["cafe", 3], ["yard", 1]]), total: null }, []).total).toBe(4);
  });

  it("the slider's minutes back stand for whole minutes of the last 24 hours", () => {
    const now = Date.UTC(2026, 10, 23, 12, 30, 45);
    expect(instantOf(0, now)).toBeNull();
    expect(instantOf(-5, now)).toBe(Date.UTC(2026, 10, 23, 12, 25, 0));
    expect(instantOf(-5000, now)).toBe(Date.UTC(2026, 10, 22, 12, 30, 0));
  });
});

describe("the path explorer's query and dwell", () => {
  it("builds the query from the filters and refuses an unreadable extra attribute", () => {
    const q = explorerQuery({ upper: "blue", zone: "cafe", extra: " Shoes=white ", minConfidence: 0.7, from: 1000, to: 2000 });
    expect("query" in q && q.query.toString()).toBe("from=1000&to=2000&upper=blue&zone=cafe&min_confidence=0.7&shoes=white");
    expect(explorerQuery({ extra: "shoes", from: 0, to: 1 })).toHaveProperty("error");
    expect(explorerQuery({ extra: "limit=5", from: 0, to: 1 })).toHaveProperty("error");
    expect(describeFilter({ upper: "blue", zone: "cafe", from: 0, to: 1 }, (id) => id.toUpperCase())).toBe("upper = blue · visited CAFE");
    expect(describeFilter({ from: 0, to: 1 }, (id) => id)).toBe("everybody");
  });

  it("derives dwell per space from the visits that entered within the range", () => {
    const v = (space: string, enter: number, leave: number) => ({ space, enter, leave });
    const items = [
      { visits: [v("cafe", 1000, 11_000), v("yard", 20_000, 23_000)] },
      { visits: [v("cafe", 2000, 32_000), v("cafe", 100_000, 101_000)] },
      { visits: [v("cafe", 3000, 5000)] },
    ] as unknown as PathItem[];
    expect(dwellBySpace(items, 0, 50_000)).toEqual([
      { space: "cafe", visits: 3, medianS: 10, meanS: 14 },
      { space: "yard", visits: 1, medianS: 3, meanS: 3 },
    ]);
  });
});

describe("the floor plan's geometry", () => {
  it("a viewBox in metres with north up, centroids, label sizes that fit", () => {
    expect(viewBoxOf({ minX: 0, minY: 10, maxX: 100, maxY: 30 }, 1)).toEqual({ x: -1, y: -31, w: 102, h: 22 });
    expect(centroid([[0, 0], [4, 0], [4, 4], [0, 4]])).toEqual([2, 2]);
    const shop = labelSizes(18, 12, "Electronics");
    expect(shop.row).toBe(false);
    expect(shop.count).toBeLessThanOrEqual(12 * 0.42);
    expect(shop.name * "Electronics".length * 0.56).toBeLessThanOrEqual(18);
    const corridor = labelSizes(44, 6, "Corridor west");
    expect(corridor.row).toBe(true);
    const hall = labelSizes(10, 10, "West entrance hall");
    expect(hall.nameLines).toEqual(["West entrance", "hall"]);
  });

  it("tile grids keep tiles as large as they can be", () => {
    expect(gridColumns(9, 1300, 800)).toBe(5);
    expect(gridColumns(1, 1300, 800)).toBe(1);
    expect(gridColumns(4, 800, 800)).toBe(2);
  });
});

describe("the plan the server gives the wall", () => {
  it("places a camera at the nearest floor its image shows, looking the way it looks, and never sends a secret", () => {
    const topo = plazaTopology("cam-plaza", "a-secret-of-the-camera");
    const stored = { site: "plaza", updatedAt: "2026-11-23T10:00:00Z", spaces: topo.spaces, doorways: topo.doorways, devices: (topo.devices ?? []).map(({ secret: _s, ...d }) => d) };
    const p = wallPlanOf(stored as Parameters<typeof wallPlanOf>[0]);
    const cam = p.cameras[0]!;
    // the image's bottom centre (384, 576) is the floor point (10, 0) of the plaza's calibration
    expect(cam.at![0]).toBeCloseTo(10, 1);
    expect(cam.at![1]).toBeCloseTo(0, 1);
    expect(cam.heading![1]).toBeGreaterThan(0.99);
    expect(cam.view).toHaveLength(4);
    expect(p.spaces).toEqual([{ id: "plaza", name: "Plaza", capacity: null, polygon: topo.spaces[0]!.polygon, dpu: false, cameras: ["cam-plaza"] }]);
    expect(JSON.stringify(p)).not.toContain("a-secret-of-the-camera");
    expect(JSON.stringify(p)).not.toContain("image_points");
  });

  it("convex hull of calibration points", () => {
    expect(convexHull([[0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 0]])).toEqual([[0, 0], [2, 0], [2, 2], [0, 2]]);
  });
});
