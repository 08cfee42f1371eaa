/**
 * Detector accuracy: the greedy IoU matcher on hand-made boxes (thresholds, duplicates, score
 * order, hard persons, empty frames), the hand annotation file's shape, and the real run of the
 * NanoDet-m detector (onnxruntime-node) on the hand-annotated frames of opencv-doc's vtest.avi,
 * printing per-frame and overall precision/recall at score >= 0.35 and >= 0.5 and asserting only a
 * loose floor (precision and recall >= 0.5 at 0.35) so that a broken detector fails.
 */
import { describe, expect, it } from "vitest";
import { Detector } from "../../models/detector.ts";
import {
  evaluate,
  formatAccuracyTable,
  loadVtestAnnotations,
  matchFrame,
  rates,
  runVtestAccuracy,
  type AnnotatedPerson,
  type Box,
  type ScoredBox,
} from "./detection-accuracy.ts";
import { hasVtest, VTEST_HEIGHT, VTEST_WIDTH } from "./frames.ts";

const person = (box: Box, hard = false): AnnotatedPerson => ({ box, hard });
const det = (box: Box, score = 0.9): ScoredBox => ({ box, score });

describe("matchFrame (greedy IoU matching)", () => {
  it("counts an exact box as a true positive", () => {
    const m = matchFrame([det([10, 10, 30, 60])], [person([10, 10, 30, 60])]);
    expect(m).toMatchObject({ tp: 1, fp: 0, fn: 0, ignored: 0, misses: [], falsePositives: [] });
    expect(m.matches).toEqual([{ detection: 0, person: 0, iou: 1, hard: false }]);
    expect(rates(m)).toEqual({ precision: 1, recall: 1 });
  });

  it("matches at IoU >= 0.5 and not below", () => {
    const gt = [person([0, 0, 10, 10])];
    // IoU exactly 0.5 (100 / 200): a match
    expect(matchFrame([det([0, 0, 10, 20])], gt).tp).toBe(1);
    // IoU 80 / 120 = 0.67: a match
    expect(matchFrame([det([2, 0, 12, 10])], gt).tp).toBe(1);
    // IoU 50 / 150 = 0.33: a false positive and a miss
    const off = matchFrame([det([5, 0, 15, 10])], gt);
    expect(off).toMatchObject({ tp: 0, fp: 1, fn: 1, falsePositives: [0], misses: [0] });
    expect(rates(off)).toEqual({ precision: 0, recall: 0 });
    // a stricter threshold turns the 0.67 match into a miss
    expect(matchFrame([det([2, 0, 12, 10])], gt, { iouThreshold: 0.7 }).tp).toBe(0);
  });

  it("lets a person match one detection only: the higher-scored one wins, the duplicate is a false positive", () => {
    const m = matchFrame([det([0, 0, 10, 20], 0.4), det([1, 0, 11, 20], 0.8)], [person([1, 0, 11, 20])]);
    expect(m).toMatchObject({ tp: 1, fp: 1, fn: 0, falsePositives: [0] });
    expect(m.matches[0]).toMatchObject({ detection: 1, person: 0 });
    expect(rates(m)).toEqual({ precision: 0.5, recall: 1 });
  });

  it("takes detections in score order, each to its best free person (greedy, not an optimal assignment)", () => {
    const a = person([0, 0, 20, 40]);
    const b = person([10, 0, 30, 40]);
    const between = det([6, 0, 26, 40], 0.9); // IoU with A 560/1040 = 0.54, with B 640/960 = 0.67
    const onB = det([10, 0, 30, 40], 0.6); // IoU with B 1, with A 400/1200 = 0.33
    const m = matchFrame([onB, between], [a, b]);
    // the 0.9 detection goes first and takes B; the exact box on B then finds B taken and A too far
    expect(m.matches).toEqual([{ detection: 1, person: 1, iou: 640 / 960, hard: false }]);
    expect(m).toMatchObject({ tp: 1, fp: 1, fn: 1, falsePositives: [0], misses: [0] });
    // with the scores swapped both are matched
    const swapped = matchFrame([{ ...onB, score: 0.9 }, { ...between, score: 0.6 }], [a, b]);
    expect(swapped).toMatchObject({ tp: 2, fp: 0, fn: 0 });
  });

  it("neither misses nor false positives for hard persons, and prefers normal persons over hard ones", () => {
    const normal = person([100, 100, 120, 150]);
    const hard = person([101, 100, 121, 150], true);
    const cut = person([748, 300, 768, 400], true);
    // one detection on the overlapping pair goes to the normal person; the cut-off person is undetected
    const m1 = matchFrame([det([101, 100, 121, 150])], [normal, hard, cut]);
    expect(m1).toMatchObject({ tp: 1, fp: 0, fn: 0, ignored: 0, misses: [] });
    expect(m1.matches[0]).toMatchObject({ person: 0, hard: false });
    // a second detection on the pair, and one on the cut-off person: both ignored
    const m2 = matchFrame([det([101, 100, 121, 150], 0.9), det([100, 101, 120, 151], 0.8), det([745, 300, 768, 400], 0.7)], [normal, hard, cut]);
    expect(m2).toMatchObject({ tp: 1, fp: 0, fn: 0, ignored: 2 });
    // a miss of the normal person still counts when only the hard one is detected elsewhere
    const m3 = matchFrame([det([745, 300, 768, 400])], [normal, cut]);
    expect(m3).toMatchObject({ tp: 0, fp: 0, fn: 1, ignored: 1, misses: [0] });
  });

  it("handles empty frames", () => {
    expect(matchFrame([], [])).toMatchObject({ tp: 0, fp: 0, fn: 0 });
    expect(rates(matchFrame([], []))).toEqual({ precision: 1, recall: 1 });
    expect(matchFrame([det([0, 0, 5, 5])], [])).toMatchObject({ fp: 1 });
    expect(rates(matchFrame([], [person([0, 0, 5, 5])]))).toEqual({ precision: 1, recall: 0 });
  });
});

describe("evaluate", () => {
  it("filters by score threshold and totals over frames", () => {
    const frames = [
      { seconds: 1, people: [person([0, 0, 10, 30]), person([50, 0, 60, 30])], detections: [det([0, 0, 10, 30], 0.9), det([50, 0, 60, 30], 0.4)] },
      { seconds: 2, people: [person([0, 0, 10, 30])], detections: [det([200, 0, 210, 30], 0.45), det([0, 1, 10, 31], 0.7)] },
    ];
    const low = evaluate(frames, 0.35);
    expect(low).toMatchObject({ tp: 3, fp: 1, fn: 0, precision: 0.75, recall: 1 });
    expect(low.frames.map((f) => [f.seconds, f.detections, f.people, f.tp, f.fp])).toEqual([
      [1, 2, 2, 2, 0],
      [2, 2, 1, 1, 1],
    ]);
    const high = evaluate(frames, 0.5);
    expect(high).toMatchObject({ tp: 2, fp: 0, fn: 1, precision: 1 });
    expect(high.recall).toBeCloseTo(2 / 3, 10);
    expect(high.meanIou).toBeGreaterThan(0.9);
    expect(formatAccuracyTable([low, high]).split("\n")).toHaveLength(1 + 3 + 3);
  });
});

describe("vtest.avi hand annotations", () => {
  it("holds six frames spread over the clip, with boxes inside the frame", () => {
    const a = loadVtestAnnotations();
    expect(a.width).toBe(VTEST_WIDTH);
    expect(a.height).toBe(VTEST_HEIGHT);
    expect(a.frames.length).toBeGreaterThanOrEqual(6);
    const secs = a.frames.map((f) => f.seconds);
    expect(Math.max(...secs) - Math.min(...secs)).toBeGreaterThan(40);
    const people = a.frames.flatMap((f) => f.people);
    const counted = people.filter((p) => !p.hard);
    console.log(`annotations: ${a.frames.length} frames at ${secs.join(", ")} s, ${counted.length} people + ${people.length - counted.length} hard`);
    expect(counted.length).toBeGreaterThanOrEqual(20);
    for (const p of counted) {
      const [x1, y1, x2, y2] = p.box;
      // pedestrians from an elevated camera: standing boxes
      expect(y2 - y1).toBeGreaterThan(x2 - x1);
    }
  });
});

describe.skipIf(!hasVtest())("NanoDet-m on the hand-annotated vtest.avi frames", () => {
  it("finds most annotated people with few false positives (recall and precision >= 0.5 at score 0.35)", async () => {
    const detector = await Detector.create({ intraOpNumThreads: 2, scoreThreshold: 0.35 });
    try {
      const run = await runVtestAccuracy(detector, [0.35, 0.5]);
      console.log(`${detector.model.name} on ${run.annotations.source}, IoU >= 0.5\n${formatAccuracyTable(run.reports)}`);
      for (const r of run.reports)
        console.log(`score >= ${r.scoreThreshold}: precision ${r.precision.toFixed(3)}, recall ${r.recall.toFixed(3)}, mean IoU of matches ${r.meanIou.toFixed(3)}`);
      const [at35, at50] = run.reports as [(typeof run.reports)[0], (typeof run.reports)[0]];
      expect(at35.tp + at35.fn).toBe(run.annotations.frames.flatMap((f) => f.people).filter((p) => !p.hard).length);
      expect(at35.recall).toBeGreaterThanOrEqual(0.5);
      expect(at35.precision).toBeGreaterThanOrEqual(0.5);
      // a higher score threshold never adds detections
      expect(at50.tp + at50.fp + at50.ignored).toBeLessThanOrEqual(at35.tp + at35.fp + at35.ignored);
    } finally {
      await detector.close();
    }
  });
});

if (!hasVtest()) console.log("vtest.avi missing: infra/setup.sh extracts it from the Debian package opencv-doc (npm run setup); real-footage accuracy skipped");
