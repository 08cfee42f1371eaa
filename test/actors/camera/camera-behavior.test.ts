import type { IPoint } from "influx";
import { describe, expect, it } from "vitest";
import { TrackUpdate } from "../../../contracts/events.ts";
import { TrackletsMsg, trackMsgIds, type CameraStatusMsg, type ChunkMsg, type FrameMsg } from "../../../contracts/track-messages.ts";
import { M } from "../../../contracts/track-store.ts";
import { trackEventSubject } from "../../../contracts/nats-layout.ts";
import { StaticSiteLookup, type SiteLookup } from "../../../topology/site-geometry.ts";
import { mulberry32 } from "../../../firmware-sim/random.ts";
import { CameraHarness } from "./harness.ts";
import { meta } from "../occupancy/recording-context.ts";
import { CAMERA, render, SITE, sites, straight, T0, type Walk } from "./scene.ts";

const walks: Walk[] = [
  straight([-3, 5], [3, 5.6], 1.3),
  straight([3, 8], [-3, 7.4], 1.2, 500),
  straight([0, 3], [0.5, 10], 1.1, 1500),
  straight([-2.5, 9], [2.5, 3], 1.4, 3000),
];
const scene = render(walks, { fps: 10, frames: 120, jitter: 0.02, miss: 0.08, falsePositives: 0.3, seed: 42, tsJitterMs: 5 });

/** Final InfluxDB content: the last point written per series and time. */
function influx(points: IPoint[]): Map<string, IPoint["fields"]> {
  const out = new Map<string, IPoint["fields"]>();
  for (const p of points) out.set(`${p.measurement}|${JSON.stringify(p.tags)}|${p.timestamp}`, p.fields);
  return out;
}

function outputs(h: CameraHarness) {
  return { sends: h.ctx.sends, emits: h.ctx.emits };
}

/** In-order delivery, flushing every 5 messages. */
function inOrder(frames: FrameMsg[], params = {}): CameraHarness {
  const h = new CameraHarness(params);
  frames.forEach((f, i) => {
    h.now = f.receivedAt;
    h.handle(f);
    if (i % 5 === 4) h.flush();
  });
  h.flush();
  return h;
}

/** The simulator's faults: 5% sent twice (some much later), batches held back up to 3 s, local shuffles. */
function faulty(frames: FrameMsg[], seed: number): FrameMsg[] {
  const rnd = mulberry32(seed);
  const arrivals: Array<{ at: number; f: FrameMsg }> = [];
  let heldUntil = 0;
  for (const f of frames) {
    const t = f.frameTs;
    if (t > heldUntil && rnd() < 0.03) heldUntil = t + 500 + rnd() * 2500;
    const at = t <= heldUntil ? heldUntil + rnd() * 50 : t + rnd() * 250;
    arrivals.push({ at, f });
    if (rnd() < 0.05) arrivals.push({ at: at + rnd() * 4000, f });
  }
  return arrivals.sort((a, b) => a.at - b.at).map((a) => a.f);
}

describe("camera actor", () => {
  it("sends tracklets to the linker and track.update events with deterministic ids", () => {
    // three confirming frames: a false positive seen twice in a row is never confirmed
    const h = inOrder(scene.frames, { minHits: 3 });
    const msgs = h.tracklets();
    expect(msgs.length).toBeGreaterThan(30);
    for (const s of h.ctx.sends) {
      const m = TrackletsMsg.parse(s.body);
      expect(s.id).toBe(SITE);
      expect(s.msgId).toBe(trackMsgIds.tracklets(CAMERA, m.seq, m.frameTs));
    }
    for (const e of h.ctx.emits) {
      const u = TrackUpdate.parse(e.body);
      expect(e.subject).toBe(trackEventSubject(SITE, CAMERA));
      expect(e.msgId).toBe(`tu:${CAMERA}:${u.seq}:${u.frameTs}`);
      expect(u.receivedAt).toBe(u.frameTs + 50);
    }
    // four people -> four tracklets (false positives never confirmed), each oid to its own person
    const tids = new Map<string, Set<number>>();
    for (const e of h.ctx.emits) for (const [tid, oid] of (e.body as TrackUpdate).tracks) {
      const person = scene.truth.get(oid)?.person;
      expect(person, `oid ${oid} of a false positive tracked`).toBeDefined();
      tids.set(tid, (tids.get(tid) ?? new Set()).add(person!));
    }
    expect(tids.size).toBe(4);
    for (const people of tids.values()) expect(people.size).toBe(1);
    // each event has the image box of every track in it: the box of the detection it matched
    const boxOf = new Map(scene.frames.flatMap((f) => f.detections.map((d) => [d.oid, d.box] as const)));
    for (const e of h.ctx.emits) {
      const u = e.body as TrackUpdate;
      expect(u.boxes!.map((b) => b[0])).toEqual(u.tracks.map((t) => t[0]));
      for (const [i, [, oid]] of u.tracks.entries()) expect(u.boxes![i]!.slice(1)).toEqual(boxOf.get(oid));
    }
    // the first person walks out of view at about 4.8 s: its tracklet ends lostMs later
    const ended = msgs.flatMap((m) => m.updates.filter((u) => u.ended).map((u) => ({ tid: u.tid, at: m.frameTs })));
    expect(ended.length).toBeGreaterThanOrEqual(1);
    for (const e of ended) expect(msgs.some((m) => m.frameTs > e.at && m.updates.some((u) => u.tid === e.tid))).toBe(false);
  });

  it("emits the boxes of confirmed tracks that have no floor position (above the horizon)", () => {
    const h = new CameraHarness();
    const f0 = scene.frames[0]!;
    // a box whose foot point is above the horizon: tracked in the image, nowhere on the floor
    for (let k = 0; k < 4; k++) {
      h.handle({ ...f0, seq: k, frameTs: f0.frameTs + 100 * k, receivedAt: f0.frameTs + 100 * k + 50,
        detections: [{ oid: `sky-${k}`, cls: "person", score: 0.9, box: [600 + k, -400, 650 + k, -300] }] });
    }
    const updates = h.ctx.emits.map((e) => TrackUpdate.parse(e.body));
    // confirmed at the second frame (minHits 2): one event per frame from then on
    expect(updates.map((u) => u.seq)).toEqual([1, 2, 3]);
    for (const u of updates) {
      expect(u.tracks).toEqual([]);
      expect(u.boxes).toEqual([[`${CAMERA}:1`, 600 + u.seq, -400, 650 + u.seq, -300]]);
    }
  });

  it("gives identical outputs whatever the order and duplication of delivery", async () => {
    const reference = inOrder(scene.frames);
    for (const seed of [1, 2, 3]) {
      const delivered = faulty(scene.frames, seed);
      expect(delivered.length).toBeGreaterThan(scene.frames.length);
      expect(delivered.map((f) => f.seq)).not.toEqual([...delivered.map((f) => f.seq)].sort((a, b) => a - b));
      const h = inOrder(delivered);
      expect(outputs(h)).toEqual(outputs(reference));
      expect(await h.counter("footfall_camera_duplicate_frames_total")).toBe(delivered.length - scene.frames.length);
      expect(await h.counter("footfall_camera_late_frames_total")).toBe(0);
      expect(await h.counter("footfall_camera_frames_total")).toBe(scene.frames.length);
      // the per-second statistics agree except for the duplicates counted
      const strip = (m: Map<string, IPoint["fields"]>) => new Map([...m].map(([k, v]) => [k, { ...v, duplicates: 0 }]));
      expect(strip(influx(h.ctx.writes))).toEqual(strip(influx(reference.ctx.writes)));
      const dups = [...influx(h.ctx.writes).entries()].filter(([k]) => k.startsWith(M.cameraStats)).reduce((s, [, v]) => s + Number(v!.duplicates), 0);
      expect(dups).toBe(delivered.length - scene.frames.length);
    }
  });

  it("gives identical outputs when the state goes through a snapshot in the middle of a stream", () => {
    const delivered = faulty(scene.frames, 7);
    const reference = inOrder(delivered);
    const h = new CameraHarness();
    delivered.forEach((f, i) => {
      h.now = f.receivedAt;
      h.handle(f);
      if (i % 5 === 4) h.flush();
      if (i % 17 === 8) h.roundTrip();
    });
    h.flush();
    expect(outputs(h)).toEqual(outputs(reference));
    expect(influx(h.ctx.writes)).toEqual(influx(reference.ctx.writes));
    // the snapshot stays small: live tracks, recent ids, a short buffer
    const size = JSON.stringify(h.behavior.encode!(h.state)).length;
    expect(size).toBeLessThan(40_000);
  });

  it("counts a frame that comes after its place was given up as late and does not track it", async () => {
    const frames = scene.frames.slice(0, 80);
    const held = frames[40]!;
    const order = [...frames.slice(0, 40), ...frames.slice(41), held];
    const h = inOrder(order, { cameraReorderMs: 2000 });
    expect(await h.counter("footfall_camera_late_frames_total")).toBe(1);
    expect(await h.counter("footfall_camera_frames_total")).toBe(79);
    expect(h.ctx.emits.some((e) => (e.body as TrackUpdate).seq === 40)).toBe(false);
    const stats = [...influx(h.ctx.writes).entries()].filter(([k]) => k.startsWith(M.cameraStats));
    expect(stats.reduce((s, [, v]) => s + Number(v!.late), 0)).toBe(1);
    expect(stats.reduce((s, [, v]) => s + Number(v!.frames), 0)).toBe(79);
  });

  it("accepts a camera whose frame counter restarted", async () => {
    const h = inOrder(scene.frames.slice(0, 60));
    const restarted = scene.frames.slice(60, 90).map((f, i) => ({ ...f, seq: i }));
    for (const f of restarted) h.handle(f);
    expect(await h.counter("footfall_camera_frames_total")).toBe(90);
    expect(await h.counter("footfall_camera_late_frames_total")).toBe(0);
    const seqs = h.ctx.emits.map((e) => (e.body as TrackUpdate).seq);
    expect(seqs).toContain(29);
    // tracks go on through the restart: the same tids as before
    const before = new Set(h.ctx.emits.filter((e) => (e.body as TrackUpdate).frameTs < restarted[0]!.frameTs).flatMap((e) => (e.body as TrackUpdate).tracks.map((t) => t[0])));
    const after = h.ctx.emits.filter((e) => (e.body as TrackUpdate).frameTs >= restarted[0]!.frameTs).flatMap((e) => (e.body as TrackUpdate).tracks.map((t) => t[0]));
    expect(after.some((t) => before.has(t))).toBe(true);
  });

  it("releases the reorder buffer at flush once the camera was quiet for cameraReorderMs of wall time, not while frames keep coming", () => {
    const frames = scene.frames.slice(0, 30);
    const h = new CameraHarness();
    // a backlog replayed long after it was received: frames keep coming, the gap is not given up by wall time
    const T = frames[29]!.receivedAt + 60_000;
    h.now = T;
    for (const f of [...frames.slice(0, 20), ...frames.slice(21)]) { h.handle(f); h.flush(); }
    const before = h.ctx.emits.length;
    h.now = T + 5000;
    h.flush();
    expect(h.ctx.emits.length).toBe(before);
    // the camera has gone quiet for longer than cameraReorderMs: what it holds is tracked
    h.now = T + 5001;
    h.flush();
    const released = h.ctx.emits.slice(before).map((e) => (e.body as TrackUpdate).seq);
    expect(released).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });

  it("tracks a camera without calibration but sends nothing to the linker, and logs it once", async () => {
    const h = new CameraHarness({}, new StaticSiteLookup([{ site: SITE, spaces: [], devices: [] }]));
    const warnings: unknown[] = [];
    const log = h.ctx.log;
    Object.defineProperty(h.ctx, "log", { value: { ...log, warn: (o: unknown) => warnings.push(o), debug: () => {}, info: () => {} } });
    for (const f of scene.frames.slice(0, 50)) h.handle(f);
    h.flush();
    expect(h.ctx.sends).toEqual([]);
    expect(h.ctx.emits).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(await h.counter("footfall_camera_frames_without_geometry_total")).toBe(50);
    expect(await h.counter("footfall_camera_tracks_confirmed_total")).toBeGreaterThanOrEqual(2);
    expect(h.ctx.writes.some((p) => p.measurement === M.cameraStats)).toBe(true);
  });

  it("looks a camera without calibration up in the store before tracking it without one (the lookup may lag behind)", async () => {
    const calibrated = sites();
    let refreshes = 0;
    let known: SiteLookup = new StaticSiteLookup([{ site: SITE, spaces: [], devices: [] }]);
    const lagging: SiteLookup = {
      site: (site) => known.site(site),
      camera: (site, camera) => known.camera(site, camera),
      refresh: async () => { refreshes++; known = calibrated; },
    };
    const h = new CameraHarness({}, lagging);
    await h.behavior.handle(h.state, JSON.parse(JSON.stringify(scene.frames[0])), h.ctx, meta(1));
    expect(refreshes).toBe(1);
    for (const f of scene.frames.slice(1, 50)) h.handle(f);
    h.flush();
    expect(refreshes).toBe(1);
    expect(await h.counter("footfall_camera_frames_without_geometry_total")).toBe(0);
    expect(h.tracklets().length).toBeGreaterThan(0);
  });

  it("drops detections whose oid was seen before, and detections of other classes", async () => {
    const h = new CameraHarness();
    const f0 = scene.frames[0]!;
    const base: FrameMsg = { ...f0, detections: [] };
    h.handle({ ...base, seq: 0, detections: [{ oid: "a", cls: "person", score: 0.9, box: [600, 200, 650, 350] }] });
    h.handle({ ...base, seq: 1, frameTs: f0.frameTs + 100, detections: [
      { oid: "a", cls: "person", score: 0.9, box: [602, 200, 652, 350] },
      { oid: "b", cls: "person", score: 0.9, box: [900, 200, 950, 350] },
      { oid: "c", cls: "car", score: 0.9, box: [100, 200, 300, 350] },
      { oid: "d", cls: "person", score: 0.9, box: [400, 200, 400, 350] },
    ] });
    h.flush();
    expect(await h.counter("footfall_camera_duplicate_detections_total")).toBe(1);
    expect(await h.counter("footfall_camera_detections_total")).toBe(2);
    const stats = h.ctx.writes.filter((p) => p.measurement === M.cameraStats).at(-1)!;
    expect(stats.fields).toMatchObject({ frames: 2, detections: 2, duplicates: 0, late: 0 });
  });

  it("skips invalid, misrouted and unknown messages without throwing", async () => {
    const h = new CameraHarness();
    const f = scene.frames[0]!;
    h.handle({ ...f, seq: -1 });
    h.handle({ ...f, detections: [{ oid: "x", cls: "person", score: 2, box: [0, 0, 1, 1] }] });
    h.handle({ ...f, camera: "cam-2" });
    h.handle({ type: "nonsense" });
    h.handle(null);
    h.handle("frame");
    expect(h.ctx.sends).toEqual([]);
    expect(h.ctx.emits).toEqual([]);
    const metric = await h.registry.getSingleMetric("footfall_actor_skipped_total")!.get();
    const by = Object.fromEntries(metric.values.filter((v) => v.labels.kind === "camera").map((v) => [v.labels.reason, v.value]));
    expect(by).toEqual({ invalid: 5, misrouted: 1 });
    expect(await h.counter("footfall_camera_frames_total")).toBe(0);
  });

  it("writes camera status points and keeps the newest status", () => {
    const h = new CameraHarness();
    const status = (ts: number, state: "online" | "offline", extra: Partial<CameraStatusMsg> = {}): CameraStatusMsg =>
      ({ type: "camera-status", site: SITE, camera: CAMERA, state, ts, receivedAt: ts + 10, ...extra });
    h.handle(status(T0, "online", { fps: 10, width: 1280, height: 720, uptime_s: 12.5 }));
    h.handle(status(T0 + 5000, "offline"));
    h.handle(status(T0 + 2000, "online", { fps: 9 }));
    const points = h.ctx.writes.filter((p) => p.measurement === M.cameraStatus);
    expect(points.map((p) => [p.timestamp, p.fields])).toEqual([
      [`${T0}000000`, { state: "online", fps: 10, width: 1280, height: 720, uptime_s: 12.5 }],
      [`${T0 + 5000}000000`, { state: "offline" }],
      [`${T0 + 2000}000000`, { state: "online", fps: 9 }],
    ]);
    expect(points[0]!.tags).toEqual({ site: SITE, camera: CAMERA });
    expect(h.state.status).toEqual({ state: "offline", ts: T0 + 5000 });
    expect(h.state.lastSeen).toBe(T0 + 5010);
    h.roundTrip();
    expect(h.state.status).toEqual({ state: "offline", ts: T0 + 5000 });
  });

  it("writes one video_chunk point per announced chunk; a re-sent announcement rewrites the same point", () => {
    const h = new CameraHarness();
    const chunk = (seq: number): ChunkMsg => ({
      type: "chunk", site: SITE, camera: CAMERA, seq, start_ms: T0 + seq * 2000, end_ms: T0 + seq * 2000 + 2000, duration_s: 2,
      frames: 50, bytes: 1000 + seq, width: 768, height: 576, gap_before_ms: 0, receivedAt: T0 + 60_000,
    });
    h.handle(chunk(0));
    h.handle(chunk(1));
    h.handle(chunk(1));
    h.handle({ ...chunk(2), camera: "another-camera" });
    h.handle({ ...chunk(3), duration_s: -1 });
    const points = influx(h.ctx.writes.filter((p) => p.measurement === M.videoChunk));
    expect([...points.values()]).toEqual([
      { seq: 0, duration_s: 2, frames: 50, bytes: 1000, width: 768, height: 576, gap_before_ms: 0 },
      { seq: 1, duration_s: 2, frames: 50, bytes: 1001, width: 768, height: 576, gap_before_ms: 0 },
    ]);
    expect([...points.keys()][1]).toBe(`${M.videoChunk}|${JSON.stringify({ site: SITE, camera: CAMERA })}|${T0 + 2000}000000`);
  });

  it("aggregates per second of frame time: frames, detections, tracks and attributes", () => {
    const frames = render([straight([-3, 6], [3, 6], 1.2)], { fps: 10, frames: 30, seed: 3 }).frames.map((f) => ({
      ...f,
      detections: f.detections.map((d, i) => ({ ...d, attrs: { upper: { value: "blue", conf: 0.8 }, ...(f.seq % 2 === 0 && i === 0 ? { lower: { value: "black", conf: 0.6 } } : {}) } })),
    }));
    const h = inOrder(frames, { minHits: 3 });
    const final = influx(h.ctx.writes);
    const stats = [...final.entries()].filter(([k]) => k.startsWith(`${M.cameraStats}|`)).map(([, v]) => v);
    expect(stats).toEqual([
      { frames: 10, detections: 10, duplicates: 0, late: 0, tracks: 1 },
      { frames: 10, detections: 10, duplicates: 0, late: 0, tracks: 1 },
      { frames: 10, detections: 10, duplicates: 0, late: 0, tracks: 1 },
    ]);
    const attrs = [...final.entries()].filter(([k]) => k.startsWith(`${M.cameraAttrs}|`));
    expect(attrs.map(([k, v]) => [JSON.parse(k.split("|")[1]!).attr, v!.n])).toEqual([
      ["lower", 5], ["upper", 10], ["lower", 5], ["upper", 10], ["lower", 5], ["upper", 10],
    ]);
    // votes reach the linker: the confirming update carries the tentative frames' votes too (3 frames)
    const first = h.tracklets()[0]!.updates[0]!;
    expect(first.obs.length).toBeGreaterThanOrEqual(1);
    expect(first.votes!.upper!.blue).toBeCloseTo(2.4);
    expect(first.votes!.lower!.black).toBeCloseTo(1.2);
  });

  it("passes every attribute vote to the linker exactly once, with the observations", () => {
    const walk = straight([-3, 6], [3, 6], 1.2);
    const frames = render([(t) => (t < 3000 ? walk(t) : undefined)], { fps: 10, frames: 60, miss: 0.1, seed: 4 }).frames.map((f) => ({
      ...f, detections: f.detections.map((d) => ({ ...d, attrs: { upper: { value: "blue", conf: 0.5 }, ...(f.seq === 7 ? { hat: { value: "red", conf: 0.25 } } : {}) } })),
    }));
    const detections = frames.reduce((n, f) => n + f.detections.length, 0);
    const h = inOrder(frames);
    const updates = h.tracklets().flatMap((m) => m.updates);
    const blue = updates.reduce((sum, u) => sum + (u.votes?.upper?.blue ?? 0), 0);
    expect(blue).toBeCloseTo(0.5 * detections, 9);
    expect(updates.reduce((sum, u) => sum + (u.votes?.hat?.red ?? 0), 0)).toBeCloseTo(0.25, 9);
    // votes ride on observation updates: far fewer updates than frames
    expect(updates.filter((u) => u.votes).length).toBeLessThan(detections / 2);
    expect(updates.at(-1)!.ended).toBe(true);
  });

  it("does not let a track take a detection whose clothes are confidently different (look veto)", () => {
    // one path; the first 15 frames show a person in blue / black, the rest someone in red / white
    // exactly where the first one would be: an identity switch in the making
    const frames = render([straight([-3, 6], [3, 6], 1.2)], { fps: 10, frames: 30, seed: 3 }).frames.map((f) => ({
      ...f,
      detections: f.detections.map((d) => ({
        ...d,
        attrs: f.seq < 15 ? { upper: { value: "blue", conf: 0.8 }, lower: { value: "black", conf: 0.8 } } : { upper: { value: "red", conf: 0.8 }, lower: { value: "white", conf: 0.8 } },
      })),
    }));
    const tidsBefore = (h: CameraHarness, before: boolean) => new Set(h.ctx.emits.flatMap((e) => {
      const u = e.body as TrackUpdate;
      return (u.seq < 15) === before ? u.tracks.map(([tid]) => tid) : [];
    }));
    const vetoed = inOrder(frames);
    const [first] = [...tidsBefore(vetoed, true)];
    expect(first).toBeDefined();
    expect(tidsBefore(vetoed, false).has(first!)).toBe(false);
    expect(tidsBefore(vetoed, false).size).toBe(1);
    // without the veto the colours only lower the pair's worth, and the track switches people
    const open = inOrder(frames, { lookVeto: 1 });
    expect([...tidsBefore(open, false)]).toEqual([...tidsBefore(open, true)]);
  });

  it("sends the mean embedding at confirmation and then at most once a second", () => {
    const frames = render([straight([-3, 6], [3, 6], 1.2)], { fps: 10, frames: 40, seed: 3 }).frames.map((f) => ({
      ...f, detections: f.detections.map((d) => ({ ...d, embedding: [f.seq % 2, 1, 0.123456] })),
    }));
    const h = inOrder(frames, { minHits: 3 });
    const withEmb = h.tracklets().flatMap((m) => m.updates.filter((u) => u.emb).map((u) => ({ ts: m.frameTs, emb: u.emb! })));
    expect(withEmb[0]!.emb).toEqual([1 / 3, 1, 0.1235].map((v) => Math.round(v * 10_000) / 10_000));
    expect(withEmb.length).toBe(4);
    for (let i = 1; i < withEmb.length; i++) expect(withEmb[i]!.ts - withEmb[i - 1]!.ts).toBeGreaterThanOrEqual(1000);
  });

  it("splits a frame's tracklet updates into messages that fit the publish limit", () => {
    const h = new CameraHarness({ minHits: 1 });
    const detections = Array.from({ length: 300 }, (_, i) => ({
      oid: `big-${i}`, cls: "person", score: 0.9,
      box: [20 + (i % 30) * 40, 200 + Math.floor(i / 30) * 40, 50 + (i % 30) * 40, 235 + Math.floor(i / 30) * 40] as [number, number, number, number],
      embedding: Array.from({ length: 256 }, (_, k) => Math.sin(i * 7 + k) * 0.5),
    }));
    h.handle({ ...scene.frames[0]!, detections });
    const sends = h.ctx.sends;
    expect(sends.length).toBeGreaterThan(1);
    const base = trackMsgIds.tracklets(CAMERA, 0, scene.frames[0]!.frameTs);
    expect(sends.map((x) => x.msgId)).toEqual(sends.map((_, k) => (k === 0 ? base : `${base}:${k}`)));
    for (const x of sends) expect(JSON.stringify(x.body).length).toBeLessThan(256 * 1024);
    const tids = sends.flatMap((x) => TrackletsMsg.parse(x.body).updates.map((u) => u.tid));
    expect(new Set(tids).size).toBe(300);
    expect(tids.length).toBe(300);
  });
});
