import { describe, expect, it } from "vitest";
import { evaluateTracking } from "./mot-metrics.ts";
import { distanceMetrics, majorityIdentity, pathQueryMetrics, zoneOccupancyError } from "./path-metrics.ts";
import { camera, person } from "./scene.ts";
import type { SystemPerson, TruthPerson } from "./types.ts";

// One camera, 4 frames. a, b, c, d in view; d is never detected; e never comes in view.
// tid 1 tracks a; tid 2 tracks c; tid 3 tracks b in 3 frames and a false detection in the last;
// tid 4 tracks false detections in 3 frames and a second box of c in the last.
const scene = camera("c1", [
  [100, "a b c d", "1=a 2=c 3=b 4=-"],
  [200, "a b c d", "1=a 2=c 3=b 4=-"],
  [300, "a b c d", "1=a 2=c 3=b 4=-"],
  [400, "a b c d", "1=a 2=c 3=- 4=c"],
]);
const withDistance = (p: SystemPerson, d: number): SystemPerson => ({ ...p, distance_m: d });
const persons = [
  withDistance(person("P1", "1@c1"), 10),
  withDistance(person("P2", "2@c1"), 20),
  withDistance(person("P3", "3@c1"), 30),
  withDistance(person("P4", "4@c1"), 5),
];
const truth: TruthPerson[] = [
  { person: "a", attrs: { upper: "blue", lower: "black" }, distance_m: 10 },
  { person: "b", attrs: { upper: "blue", lower: "grey" }, distance_m: 28 },
  { person: "c", attrs: { upper: "red", lower: "black" }, distance_m: 22 },
  { person: "d", attrs: { upper: "blue", lower: "black" }, distance_m: 40 },
  { person: "e", attrs: { upper: "blue", lower: "black" }, distance_m: 100 },
];
const evaluation = evaluateTracking({ truth: scene.truth, hypotheses: scene.hypotheses, persons });

describe("majority identity", () => {
  it("is the person behind most detections, or nobody when false detections are most", () => {
    // P1: a 4; P3: b 3 + nobody 1; P4: nobody 3 + c 1
    expect(majorityIdentity(evaluation.identities, "P1")).toBe("a");
    expect(majorityIdentity(evaluation.identities, "P3")).toBe("b");
    expect(majorityIdentity(evaluation.identities, "P4")).toBeNull();
    expect(majorityIdentity(evaluation.identities, "P9")).toBeNull();
    const tie = new Map([["T", new Map<string | null, number>([[null, 2], ["y", 2], ["x", 2]])]]);
    expect(majorityIdentity(tie, "T")).toBe("x");
  });
  it("seen persons are those in view of a camera, detected or not", () => {
    expect([...evaluation.seen].sort()).toEqual(["a", "b", "c", "d"]);
  });
});

describe("path query precision and recall", () => {
  it("upper=blue returning a right, a wrong and an unidentified track", () => {
    // majorities a (blue), c (red), none: 1 of 3 right; blue persons seen: a, b, d, found: a
    const m = pathQueryMetrics({ returned: ["P1", "P2", "P4"], filter: { upper: "blue" }, evaluation, truth });
    expect([m.returned, m.truePositives, m.relevant, m.found]).toEqual([3, 1, 3, 1]);
    expect(m.precision).toBeCloseTo(1 / 3, 12);
    expect(m.recall).toBeCloseTo(1 / 3, 12);
  });
  it("upper=blue returning only right tracks (one twice)", () => {
    // P1 -> a, P3 -> b: precision 2/2; found a, b of a, b, d: recall 2/3 (d was never detected)
    const m = pathQueryMetrics({ returned: ["P1", "P3", "P1"], filter: { upper: "blue" }, evaluation, truth });
    expect([m.returned, m.truePositives, m.found]).toEqual([2, 2, 2]);
    expect(m.precision).toBe(1);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
  });
  it("two attributes must both hold", () => {
    // upper=blue&lower=black: relevant a, d; P1 (a) right, P3 (b, grey) wrong
    const m = pathQueryMetrics({ returned: ["P1", "P3"], filter: { upper: "blue", lower: "black" }, evaluation, truth });
    expect([m.truePositives, m.relevant, m.found]).toEqual([1, 2, 1]);
    expect([m.precision, m.recall]).toEqual([0.5, 0.5]);
  });
  it("an empty answer has undefined precision and zero recall", () => {
    const m = pathQueryMetrics({ returned: [], filter: { upper: "blue" }, evaluation, truth });
    expect(m.precision).toBeNaN();
    expect(m.recall).toBe(0);
  });
});

describe("distance walked", () => {
  it("compares the mean of system tracks with the mean of seen persons", () => {
    // system (10 + 20 + 30 + 5) / 4 = 16.25; truth over seen a, b, c, d (10 + 28 + 22 + 40) / 4 = 25
    // -> (16.25 - 25) / 25 = -0.35. Pairs of the assignment: a-P1 10/10, b-P3 30/28, c-P2 20/22
    const m = distanceMetrics({ system: persons, truth, evaluation });
    expect([m.systemTracks, m.truePersons, m.pairs]).toEqual([4, 4, 3]);
    expect(m.systemMean).toBe(16.25);
    expect(m.trueMean).toBe(25);
    expect(m.relativeError).toBeCloseTo(-0.35, 12);
    expect(m.pairMeanAbsError).toBeCloseTo(4 / 3, 12);
    expect(m.pairMeanRelError).toBeCloseTo((0 + 2 / 28 + 2 / 22) / 3, 12);
  });
  it("can leave out tracks without an identity", () => {
    // P4 has none: (10 + 20 + 30) / 3 = 20 -> -0.2
    const m = distanceMetrics({ system: persons, truth, evaluation, onlyIdentified: true });
    expect(m.systemTracks).toBe(3);
    expect(m.relativeError).toBeCloseTo(-0.2, 12);
  });
});

describe("zone occupancy error", () => {
  it("mean absolute, largest, and relative errors over samples", () => {
    // |5-4| + |3-3| + |0-2| + |10-11| = 4 over 4 samples; truth sums to 20, system to 18
    const m = zoneOccupancyError([
      { zone: "z1", at: 1, system: 5, truth: 4 },
      { zone: "z1", at: 2, system: 3, truth: 3 },
      { zone: "z2", at: 1, system: 0, truth: 2 },
      { zone: "z2", at: 2, system: 10, truth: 11 },
    ]);
    expect([m.samples, m.meanAbsError, m.maxAbsError]).toEqual([4, 1, 2]);
    expect(m.relativeAbsError).toBeCloseTo(0.2, 12);
    expect(m.relativeTotalError).toBeCloseTo(-0.1, 12);
    expect(m.perZone.get("z1")!.meanAbsError).toBe(0.5);
    expect(m.perZone.get("z1")!.relativeAbsError).toBeCloseTo(1 / 7, 12);
    expect(m.perZone.get("z2")!.relativeAbsError).toBeCloseTo(3 / 13, 12);
  });
});
