import { describe, expect, it } from "vitest";
import { evaluateTracking } from "./mot-metrics.ts";
import { distanceMetrics, pathQueryMetrics, zoneOccupancyError } from "./path-metrics.ts";
import { formatAccuracyReport, poolCameras } from "./report.ts";
import { camera, merge, person } from "./scene.ts";
import { systemPersonFromRecord, type HypothesisFrame, type SystemPerson, type TruthFrame } from "./types.ts";

describe("person records", () => {
  it("parses the tracklets JSON of a person point and refuses malformed ones", () => {
    const p = systemPersonFromRecord({ person: "P1", tracklets: '[["c1:1","c1",100,300]]', distance_m: 12.5, upper: "blue" });
    expect(p).toEqual({ person: "P1", tracklets: [["c1:1", "c1", 100, 300]], distance_m: 12.5 });
    expect(() => systemPersonFromRecord({ person: "P1", tracklets: "[[", distance_m: 1 })).toThrow(/not JSON/);
    expect(() => systemPersonFromRecord({ person: "P1", tracklets: '[["c1:1","c1"]]', distance_m: 1 })).toThrow();
  });
});

describe("accuracy report", () => {
  it("prints one row per camera, the pooled and the cross-camera figures", () => {
    // c1: a on tid 1 for 3 frames, then a false positive: GT 3, FP 1 -> MOTA 1 - 1/3
    // c2: nobody in view, nothing tracked: MOTA undefined (n/a)
    const s = merge(camera("c1", [[100, "a", "c1:1=a"], [200, "a", "c1:1=a"], [300, "a", "c1:1=a 9=-"]]), camera("c2", [[100, "", ""]]));
    const tracking = evaluateTracking({ truth: s.truth, hypotheses: s.hypotheses, persons: [person("P1", "c1:1@c1")] });
    const text = formatAccuracyReport({
      title: "seed 1",
      tracking,
      pathQueries: [pathQueryMetrics({ returned: ["P1"], filter: { upper: "blue" }, evaluation: tracking, truth: [{ person: "a", attrs: { upper: "blue" }, distance_m: 8 }] })],
      distance: distanceMetrics({ system: [{ ...person("P1", "c1:1@c1"), distance_m: 10 }], truth: [{ person: "a", attrs: {}, distance_m: 8 }], evaluation: tracking }),
      zones: zoneOccupancyError([{ zone: "z", at: 0, system: 1, truth: 1 }]),
    });
    const lines = text.split("\n");
    expect(lines[0]).toBe("seed 1");
    const c1 = lines.find((l) => l.startsWith("c1 "))!.trim().split(/\s+/);
    // scope frames GT FN FP IDSW FM MT/PT/ML MOTA IDF1 ...: IDF1 = 2*3 / (3 + 4) = 0.857
    expect(c1.slice(1)).toEqual(["3", "3", "0", "1", "0", "0", "1/0/0", "0.667", "0.857", "0.750", "1.000"]);
    expect(lines.find((l) => l.startsWith("c2 "))).toMatch(/n\/a/);
    expect(text).toMatch(/^cross-camera .* 0\.667 +0\.857/m);
    expect(text).toMatch(/^upper=blue +1 +1 +1\.000 +1 +1 +1\.000$/m);
    // distance: 10 against 8 -> +25.0 %
    expect(text).toContain("error 25.0 %");
  });

  it("pools cameras by summing counts", () => {
    const s = merge(camera("c1", [[100, "a", "1=a"], [200, "a", ""]]), camera("c2", [[100, "b", "2=b 3=-"]]));
    const p = poolCameras(evaluateTracking({ truth: s.truth, hypotheses: s.hypotheses, persons: [] }).perCamera.values());
    // GT 3, FN 1, FP 1 -> MOTA 1/3; IDTP 2, hyp 3 -> IDF1 4/6
    expect([p.gt, p.fn, p.fp, p.idtp]).toEqual([3, 1, 1, 2]);
    expect(p.mota).toBeCloseTo(1 / 3, 12);
    expect(p.idf1).toBeCloseTo(2 / 3, 12);
  });
});

describe("scale", () => {
  it("evaluates 500,000 detections of 10 cameras within seconds", () => {
    // 10 cameras x 5,000 frames x 10 persons in view. Each of a camera's 10 slots holds one person
    // for 200 frames, then the next. Slot 1 is missed every 50th frame (FN); every 100th frame has
    // one false-positive track (FP). Each person's tracklet is its own system person.
    const truth: TruthFrame[] = [];
    const hypotheses: HypothesisFrame[] = [];
    const persons = new Map<string, SystemPerson>();
    let gt = 0, fn = 0, fp = 0;
    for (let c = 0; c < 10; c++) {
      const cam = `cam-${c}`;
      for (let k = 0; k < 5000; k++) {
        const ts = 1_700_000_000_000 + k * 100;
        const visible: string[] = [];
        const detections: [string, string | null][] = [];
        const tracks: [string, string, number, number][] = [];
        for (let j = 0; j < 10; j++) {
          const who = `p${c}.${j}.${Math.floor((k + 20 * j) / 200)}`;
          visible.push(who);
          gt++;
          if (j === 1 && k % 50 === 7) {
            fn++;
            continue;
          }
          const oid = `${k}.${j}`, tid = `${cam}:${who}`;
          detections.push([oid, who]);
          tracks.push([tid, oid, 0, 0]);
          if (!persons.has(tid)) persons.set(tid, { person: `P-${tid}`, distance_m: 0, tracklets: [[tid, cam, 0, Infinity]] });
        }
        if (k % 100 === 3) {
          detections.push([`${k}.fp`, null]);
          tracks.push([`${cam}:ghost${k}`, `${k}.fp`, 0, 0]);
          fp++;
        }
        truth.push({ camera: cam, frameTs: ts, visible, detections });
        hypotheses.push({ camera: cam, frameTs: ts, tracks });
      }
    }
    expect(gt).toBe(500_000);
    const t0 = performance.now();
    const m = evaluateTracking({ truth, hypotheses, persons: persons.values() });
    const ms = performance.now() - t0;
    console.log(`500k detections evaluated in ${ms.toFixed(0)} ms`);
    for (const r of [m.crossCamera, poolCameras(m.perCamera.values())]) {
      expect([r.gt, r.fn, r.fp, r.idsw]).toEqual([gt, fn, fp, 0]);
      expect(r.mota).toBeCloseTo(1 - (fn + fp) / gt, 12);
      // every match is an identity true positive: IDF1 = 2 (gt - fn) / (gt + (gt - fn + fp))
      expect(r.idf1).toBeCloseTo((2 * (gt - fn)) / (gt + gt - fn + fp), 12);
    }
  });
});
