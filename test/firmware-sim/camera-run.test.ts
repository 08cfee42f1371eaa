import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DetectionFrame, type Colour } from "../../contracts/detection.ts";
import type { Point } from "../../contracts/geometry.ts";
import { applyHomography, fitHomography } from "../../topology/geometry/homography.ts";
import { cameraCoverage } from "../../firmware-sim/camera-coverage.ts";
import { SIMILAR_COLOURS, NO_FAULTS } from "../../firmware-sim/camera-detector.ts";
import { cameraMall, cameraMallSecrets, toCameraTopologyDoc } from "../../firmware-sim/camera-mall.ts";
import { CameraModel } from "../../firmware-sim/camera-model.ts";
import { cameraFrameStream, simulateCameraFrames, type SimFrame } from "../../firmware-sim/camera-run.ts";

const T0 = Date.UTC(2026, 5, 1, 10);
const plan = cameraMall();
const models = new Map(plan.cameras.map((c) => [c.id, new CameraModel(c.pose)]));
const opts = { plan, walkers: 150, durationMs: 8 * 60_000, startTs: T0, seed: 21 };
const sim = simulateCameraFrames(opts);
const { frames, truth, counters } = sim;
const originals = frames.filter((f) => !f.duplicate);
const digest = (fs: SimFrame[]) => createHash("sha256").update(fs.map((f) => `${f.camera}|${f.publishAt}|${f.payload}`).join("\n")).digest("hex");

describe("camera frames: shape, order and determinism", () => {
  it("is deterministic for a seed (same frames, oids and publish order) and differs for another seed", () => {
    expect(digest(simulateCameraFrames(opts).frames)).toBe(digest(frames));
    expect(digest(simulateCameraFrames({ ...opts, seed: 22 }).frames)).not.toBe(digest(frames));
  });

  it("renders every frame of every camera at its fps, each a valid DetectionFrame, sent at least once", () => {
    expect(originals.length).toBe(counters.frames);
    for (const c of plan.cameras) {
      const mine = originals.filter((f) => f.camera === c.id).sort((a, b) => a.seq - b.seq);
      expect(mine.length).toBe(8 * 60 * 5);
      mine.forEach((f, i) => {
        expect(f.seq).toBe(i);
        if (i > 0) expect(f.frameTs - mine[i - 1]!.frameTs).toBe(200);
      });
      expect(mine[0]!.frameTs - T0).toBeLessThan(200);
    }
    const problems: string[] = [];
    for (const f of frames) {
      const parsed = DetectionFrame.safeParse(JSON.parse(f.payload));
      if (!parsed.success) { problems.push(`${f.camera}#${f.seq}: ${parsed.error.message}`); continue; }
      if (parsed.data.seq !== f.seq || parsed.data.frame_ts !== f.frameTs) problems.push(`${f.camera}#${f.seq}: seq or frame_ts`);
      for (const d of parsed.data.detections) {
        if (d.cls !== "person") problems.push(`${d.oid}: cls ${d.cls}`);
        // no shoes: a reprocessing job extracts those
        if (Object.keys(d.attrs ?? {}).sort().join() !== "lower,upper") problems.push(`${d.oid}: attrs ${Object.keys(d.attrs ?? {})}`);
      }
    }
    expect(problems).toEqual([]);
    expect(frames.some((f) => f.frame.detections.length === 0)).toBe(true); // empty frames are published too
  });

  it("publishes in time order, each camera in seq order except held-back batches", () => {
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.publishAt).toBeGreaterThanOrEqual(frames[i - 1]!.publishAt);
    for (const c of plan.cameras) {
      const live = frames.filter((f) => f.camera === c.id && !f.duplicate && !f.late).map((f) => f.seq);
      expect(live).toEqual([...live].sort((a, b) => a - b));
    }
  });

  it("every camera sees somebody, and people are seen by several cameras over their visit", () => {
    for (const c of plan.cameras) {
      expect(truth.seenPersons(c.id).size, c.id).toBeGreaterThan(3);
      expect(originals.filter((f) => f.camera === c.id).some((f) => f.frame.detections.length > 0)).toBe(true);
    }
    const seen = truth.seenPersons();
    expect(seen.size / truth.persons.length).toBeGreaterThan(0.95);
  });

  it("records the truth of every frame: detections map to their person (or null), oids unique per camera", () => {
    const oids = new Set<string>();
    const problems: string[] = [];
    for (const f of originals) {
      const t = truth.frame(f.camera, f.seq)!;
      const at = `${f.camera}#${f.seq}`;
      if (t.frameTs !== f.frameTs) problems.push(`${at}: frameTs`);
      if (t.detections.map(([oid]) => oid).join() !== f.frame.detections.map((d) => d.oid).join()) problems.push(`${at}: oids`);
      for (const [oid, person] of t.detections) {
        if (oids.has(`${f.camera}/${oid}`)) problems.push(`${at}: oid ${oid} repeated`);
        oids.add(`${f.camera}/${oid}`);
        if (truth.personOf(f.camera, oid) !== person) problems.push(`${at}: personOf ${oid}`);
        if (person !== null && !t.visible.includes(person)) problems.push(`${at}: ${person} detected but not visible`);
      }
      for (const p of t.occluded) {
        if (!t.visible.includes(p)) problems.push(`${at}: ${p} occluded but not visible`);
        if (t.detections.some(([, q]) => q === p)) problems.push(`${at}: ${p} occluded but detected`);
      }
      // who is visible really stands where the camera sees
      for (const p of t.visible) {
        const pos = truth.positionAt(p, f.frameTs)!;
        if (!models.get(f.camera)!.seesFloorPoint([pos.x, pos.y])) problems.push(`${at}: ${p} out of view`);
      }
    }
    expect(problems).toEqual([]);
    expect(oids.size).toBe(counters.detections);
    expect(truth.personOf("cam-c1", "no-such-oid")).toBeUndefined();
  });
});

describe("camera faults at their default rates", () => {
  const trueDets = originals.flatMap((f) => f.frame.detections.map((d) => ({ f, d, person: truth.personOf(f.camera, d.oid)! }))).filter((x) => x.person !== null);

  it("misses ~10% of visible, unoccluded people and hides people behind nearer ones", () => {
    const unoccluded = counters.visible - counters.occluded;
    expect(counters.missed / unoccluded).toBeGreaterThan(0.085);
    expect(counters.missed / unoccluded).toBeLessThan(0.115);
    expect(trueDets.length).toBe(unoccluded - counters.missed);
    expect(counters.occluded / counters.visible).toBeGreaterThan(0.005);
    expect(counters.occluded / counters.visible).toBeLessThan(0.15);
  });

  it("adds false positives to ~3% of frames, with low-ish scores", () => {
    expect(counters.falsePositives / counters.frames).toBeGreaterThan(0.02);
    expect(counters.falsePositives / counters.frames).toBeLessThan(0.04);
    const fps = originals.flatMap((f) => f.frame.detections.filter((d) => truth.personOf(f.camera, d.oid) === null));
    expect(fps.length).toBe(counters.falsePositives);
    expect(fps.every((d) => d.score >= 0.1 && d.score <= 0.55)).toBe(true);
  });

  it("scores true detections mostly 0.5-0.95, some 0.15-0.5", () => {
    const high = trueDets.filter((x) => x.d.score >= 0.5).length / trueDets.length;
    expect(high).toBeGreaterThan(0.82);
    expect(high).toBeLessThan(0.88);
    expect(trueDets.every((x) => x.d.score >= 0.15 && x.d.score <= 0.95)).toBe(true);
  });

  it("confuses ~15% of colour attributes with a similar colour, at lower confidence", () => {
    let wrong = 0, all = 0;
    const problems: string[] = [];
    for (const { d, person } of trueDets) {
      const p = truth.person(person)!;
      for (const [attr, real] of [["upper", p.upper], ["lower", p.lower]] as Array<[string, Colour]>) {
        const a = d.attrs![attr]!;
        all++;
        if (a.value !== real) {
          wrong++;
          if (!SIMILAR_COLOURS[real].includes(a.value as Colour)) problems.push(`${d.oid}: ${real} -> ${a.value}`);
          if (a.conf > 0.6) problems.push(`${d.oid}: confused at conf ${a.conf}`);
        } else if (a.conf < 0.55) {
          problems.push(`${d.oid}: right at conf ${a.conf}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(wrong / all).toBeGreaterThan(0.13);
    expect(wrong / all).toBeLessThan(0.17);
  });

  it("jitters box edges by ~3% of the box size around the true feet", () => {
    const rel: number[] = [];
    for (const { f, d, person } of trueDets) {
      const at = truth.positionAt(person, f.frameTs)!;
      const feet = models.get(f.camera)!.floorToImage([at.x, at.y])!;
      const h = d.box[3] - d.box[1];
      if (feet[1] > 700 || d.box[1] <= 0) continue; // clipped boxes
      rel.push((d.box[3] - feet[1]) / h);
    }
    const mean = rel.reduce((a, b) => a + b, 0) / rel.length;
    const sd = Math.sqrt(rel.reduce((a, b) => a + (b - mean) ** 2, 0) / rel.length);
    expect(Math.abs(mean)).toBeLessThan(0.005);
    expect(sd).toBeGreaterThan(0.025);
    expect(sd).toBeLessThan(0.036);
  });

  it("sends ~5% of frames twice, byte-identical, within a second", () => {
    const dups = frames.filter((f) => f.duplicate);
    expect(dups.length).toBe(counters.duplicatesSent);
    expect(dups.length / counters.frames).toBeGreaterThan(0.04);
    expect(dups.length / counters.frames).toBeLessThan(0.06);
    const first = new Map<string, SimFrame>();
    for (const f of frames) {
      const key = `${f.camera}#${f.seq}`;
      if (!f.duplicate) { first.set(key, f); continue; }
      const orig = first.get(key)!;
      expect(orig, key).toBeDefined(); // the copy goes out after the original
      expect(f.payload).toBe(orig.payload);
      expect(f.publishAt - orig.publishAt).toBeLessThanOrEqual(1000);
    }
  });

  it("holds back batches of 5-14 frames now and then and sends them after later frames, at most 3 s late", () => {
    const many = simulateCameraFrames({ ...opts, walkers: 20, durationMs: 3 * 60_000, faults: { lateBatchRate: 0.02 } });
    expect(many.counters.lateBatches).toBeGreaterThan(20);
    const late = many.frames.filter((f) => f.late && !f.duplicate);
    expect(late.length).toBe(many.counters.lateFrames);
    expect(late.every((f) => f.publishAt - f.frameTs <= 3000)).toBe(true);
    // batches: consecutive seqs sent at one instant; a later frame of the camera went out before
    const batches = new Map<string, SimFrame[]>();
    for (const f of late) {
      const k = `${f.camera}@${f.publishAt}`;
      batches.set(k, [...(batches.get(k) ?? []), f]);
    }
    for (const b of batches.values()) {
      const seqs = b.map((f) => f.seq);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
      expect(b.length).toBeLessThanOrEqual(14);
      // a batch still held when the run ends goes out after the camera's last frame
      const endOfRun = seqs[seqs.length - 1] === 3 * 60 * 5 - 1;
      if (!endOfRun) {
        expect(b.length).toBeGreaterThanOrEqual(5);
        const i = many.frames.indexOf(b[0]!);
        expect(many.frames.slice(0, i).some((f) => f.camera === b[0]!.camera && f.seq > seqs[seqs.length - 1]!)).toBe(true);
      }
    }
  });
});

describe("a perfect camera", () => {
  const perfect = simulateCameraFrames({ ...opts, walkers: 60, durationMs: 4 * 60_000, faults: NO_FAULTS });

  it("detects everybody in view exactly once, sends every frame once and in order", () => {
    expect(perfect.counters).toMatchObject({ missed: 0, occluded: 0, falsePositives: 0, duplicatesSent: 0, lateBatches: 0 });
    expect(perfect.counters.detections).toBe(perfect.counters.visible);
    for (const t of perfect.truth.frames) expect(t.detections.map(([, p]) => p).sort()).toEqual([...t.visible].sort());
  });

  it("puts the bottom centre of each box, through the topology's calibration, within 10 cm of the person (within 12 m)", () => {
    const doc = toCameraTopologyDoc(plan, cameraMallSecrets(plan), { coverage: cameraCoverage(plan) });
    const H = new Map(doc.devices.filter((d) => d.kind === "camera").map((d) => [d.id, fitHomography(d.calibration!.image_points as Point[], d.calibration!.floor_points as Point[])]));
    let checked = 0;
    for (const f of perfect.frames) {
      for (const d of f.frame.detections) {
        const person = perfect.truth.personOf(f.camera, d.oid)!;
        const at = perfect.truth.positionAt(person, f.frameTs)!;
        if (models.get(f.camera)!.rangeOf([at.x, at.y]) > 12 || d.box[0] <= 0 || d.box[2] >= 1280) continue;
        const floor = applyHomography(H.get(f.camera)!, [(d.box[0] + d.box[2]) / 2, d.box[3]])!;
        expect(Math.hypot(floor[0] - at.x, floor[1] - at.y)).toBeLessThan(0.1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});

describe("the acceptance scale", () => {
  it("generates 10+ cameras, 300 walkers, 15 minutes at 5 fps", () => {
    const stream = cameraFrameStream({ plan, walkers: 300, durationMs: 15 * 60_000, startTs: T0, seed: 1 });
    let n = 0;
    for (const f of stream.frames) n += f.duplicate ? 0 : 1;
    expect(n).toBe(stream.totalFrames);
    expect(stream.totalFrames).toBe(plan.cameras.length * 15 * 60 * 5);
    expect(stream.counters.detections).toBeGreaterThan(200_000);
  });
});
