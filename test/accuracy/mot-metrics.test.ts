import { describe, expect, it } from "vitest";
import { evaluateTracking } from "./mot-metrics.ts";
import { camera, merge, person, type FrameSpec } from "./scene.ts";
import type { SystemPerson } from "./types.ts";

const evaluate = (s: ReturnType<typeof camera>, persons: SystemPerson[] = []) =>
  evaluateTracking({ truth: s.truth, hypotheses: s.hypotheses, persons });

const frames = (from: number, to: number, visible: string, tracks: string): FrameSpec[] =>
  Array.from({ length: to - from + 1 }, (_, i) => [(from + i) * 100, visible, tracks] as const);

describe("CLEAR MOT and IDF1 per camera", () => {
  it("perfect tracking gives MOTA 1 and IDF1 1", () => {
    // a and b in 4 frames, tid 1 always on a, tid 2 always on b: GT 8, FN 0, FP 0, IDSW 0
    const s = camera("c1", frames(1, 4, "a b", "1=a 2=b"));
    const m = evaluate(s, [person("P1", "1@c1"), person("P2", "2@c1")]);
    const c = m.perCamera.get("c1")!;
    expect([c.gt, c.hyp, c.fn, c.fp, c.idsw, c.fm]).toEqual([8, 8, 0, 0, 0, 0]);
    expect(c.mota).toBe(1);
    expect([c.idf1, c.idp, c.idr]).toEqual([1, 1, 1]);
    expect([c.mt, c.pt, c.ml]).toEqual([2, 0, 0]);
    expect(m.crossCamera.mota).toBe(1);
    expect(m.crossCamera.idf1).toBe(1);
    expect(m.crossCamera.assignment).toEqual([["a", "P1", 4], ["b", "P2", 4]]);
  });

  it("an id switch costs one IDSW and halves IDF1", () => {
    // a in 6 frames: tid 1 in frames 1-3, tid 2 in 4-6.
    // MOTA = 1 - 1/6. IDF1: a-1 and a-2 share 3 frames each, only one can be a's: IDTP 3,
    // IDF1 = 2*3 / (6 GT + 6 hyp) = 0.5, IDP = 3/6, IDR = 3/6
    const s = camera("c1", [...frames(1, 3, "a", "1=a"), ...frames(4, 6, "a", "2=a")]);
    const c = evaluate(s).perCamera.get("c1")!;
    expect([c.gt, c.fn, c.fp, c.idsw, c.fm]).toEqual([6, 0, 0, 1, 0]);
    expect(c.mota).toBeCloseTo(1 - 1 / 6, 12);
    expect([c.idtp, c.idfp, c.idfn]).toEqual([3, 3, 3]);
    expect([c.idf1, c.idp, c.idr]).toEqual([0.5, 0.5, 0.5]);
  });

  it("two tracks swapping persons count a switch for each", () => {
    // a: 1,1,2,2 and b: 2,2,1,1 -> IDSW 2 (both at frame 3), MOTA = 1 - 2/8 = 0.75
    // overlaps a-1 2, a-2 2, b-1 2, b-2 2 -> IDTP 4, IDF1 = 8/16
    const s = camera("c1", [...frames(1, 2, "a b", "1=a 2=b"), ...frames(3, 4, "a b", "2=a 1=b")]);
    const c = evaluate(s).perCamera.get("c1")!;
    expect(c.idsw).toBe(2);
    expect(c.mota).toBe(0.75);
    expect(c.idf1).toBe(0.5);
  });

  it("a track lost and resumed is a fragmentation; resumed under a new tid also a switch", () => {
    // a visible in 6 frames, not matched in frames 3-4: FN 2, FM 1, IDSW 0, MOTA = 1 - 2/6
    // IDTP 4 (a-1), hyp 4, GT 6: IDF1 = 8/10, IDP 1, IDR 4/6; matched 4/6 -> partially tracked
    const same = camera("c1", [...frames(1, 2, "a", "1=a"), ...frames(3, 4, "a", ""), ...frames(5, 6, "a", "1=a")]);
    const c = evaluate(same).perCamera.get("c1")!;
    expect([c.fn, c.fp, c.idsw, c.fm]).toEqual([2, 0, 0, 1]);
    expect(c.mota).toBeCloseTo(1 - 2 / 6, 12);
    expect(c.idf1).toBeCloseTo(0.8, 12);
    expect(c.idp).toBe(1);
    expect(c.idr).toBeCloseTo(4 / 6, 12);
    expect([c.mt, c.pt, c.ml]).toEqual([0, 1, 0]);

    // resumed as tid 2: FN 2, IDSW 1, FM 1 -> MOTA = 1 - 3/6; IDTP 2 -> IDF1 = 4/10
    const other = camera("c1", [...frames(1, 2, "a", "1=a"), ...frames(3, 4, "a", ""), ...frames(5, 6, "a", "2=a")]);
    const d = evaluate(other).perCamera.get("c1")!;
    expect([d.fn, d.idsw, d.fm]).toEqual([2, 1, 1]);
    expect(d.mota).toBe(0.5);
    expect(d.idf1).toBeCloseTo(0.4, 12);
    // a person out of view between matches is not a fragmentation (frames 3-4 without a)
    const away = camera("c1", [...frames(1, 2, "a", "1=a"), ...frames(3, 4, "", ""), ...frames(5, 6, "a", "1=a")]);
    expect(evaluate(away).perCamera.get("c1")!.fm).toBe(0);
  });

  it("false positives: tracks on false detections, duplicate boxes, unknown detections", () => {
    // a in 4 frames on tid 1; tid 9 on a false detection in frames 2-3: FP 2, MOTA = 1 - 2/4
    // IDTP 4, hyp 6, GT 4: IDF1 = 8/10, IDP 4/6, IDR 1
    const s = camera("c1", [[100, "a", "1=a"], [200, "a", "1=a 9=-"], [300, "a", "1=a 9=-"], [400, "a", "1=a"]]);
    const c = evaluate(s).perCamera.get("c1")!;
    expect([c.gt, c.hyp, c.fn, c.fp, c.idsw]).toEqual([4, 6, 0, 2, 0]);
    expect(c.mota).toBe(0.5);
    expect(c.idf1).toBeCloseTo(0.8, 12);
    expect(c.idp).toBeCloseTo(4 / 6, 12);
    expect(c.idr).toBe(1);

    // a second box of a in frame 3 tracked by tid 5: a keeps tid 1 (no switch), tid 5 is FP
    const dup = camera("c1", [[100, "a", "1=a"], [200, "a", "1=a"], [300, "a", "5=a 1=a"], [400, "a", "1=a"]]);
    const d = evaluate(dup).perCamera.get("c1")!;
    expect([d.fp, d.idsw, d.matches]).toEqual([1, 0, 4]);
    expect(d.mota).toBe(0.75);

    // a hypothesis whose oid is no detection of its frame: FP and reported
    const stray = camera("c1", [[100, "a", "1=a"]]);
    stray.hypotheses.push({ camera: "c1", frameTs: 100, tracks: [["7", "no-such-oid", 0, 0]] });
    stray.hypotheses.push({ camera: "c1", frameTs: 150, tracks: [["7", "other", 0, 0]] });
    const e = evaluate(stray).perCamera.get("c1")!;
    expect([e.frames, e.fp, e.unknownOids]).toEqual([2, 2, 2]);
    expect(e.mota).toBe(1 - 2 / 1);
  });

  it("misses: a person never detected is mostly lost", () => {
    // a and b in 4 frames, b never matched: GT 8, FN 4, MOTA 0.5; IDTP 4: IDF1 8/12, IDP 1, IDR 0.5
    const c = evaluate(camera("c1", frames(1, 4, "a b", "1=a"))).perCamera.get("c1")!;
    expect([c.gt, c.fn, c.fp]).toEqual([8, 4, 0]);
    expect(c.mota).toBe(0.5);
    expect(c.idf1).toBeCloseTo(2 / 3, 12);
    expect([c.idp, c.idr]).toEqual([1, 0.5]);
    expect([c.mt, c.pt, c.ml]).toEqual([1, 0, 1]);
    expect(c.gtIds).toBe(2);
  });

  it("repeated TrackUpdates and truth records (replays, duplicate sends) change nothing", () => {
    const s = camera("c1", [...frames(1, 3, "a b", "1=a 2=b"), ...frames(4, 6, "a b", "1=a 3=-")]);
    const once = evaluate(s, [person("P1", "1@c1")]);
    const twice = evaluateTracking({
      truth: [...s.truth, ...s.truth],
      hypotheses: [...s.hypotheses, ...s.hypotheses.slice().reverse()],
      persons: [person("P1", "1@c1")],
    });
    expect(twice).toEqual(once);
  });

  it("rejects truth that gives one detection two persons", () => {
    const s = camera("c1", [[100, "a", "1=a"]]);
    const bad = { ...s.truth[0]!, detections: [[s.truth[0]!.detections[0]![0], "b"] as const] };
    expect(() => evaluateTracking({ truth: [...s.truth, bad], hypotheses: [], persons: [] })).toThrow(/detection/);
  });
});

describe("cross-camera identities", () => {
  // a walks through c1 (frames at 100..300) then c2 (500..700)
  const handover = merge(camera("c1", frames(1, 3, "a", "c1:1=a")), camera("c2", frames(5, 7, "a", "c2:1=a")));

  it("a correct hand-over keeps one identity", () => {
    const m = evaluate(handover, [person("P1", "c1:1@c1", "c2:1@c2")]);
    expect(m.perCamera.get("c1")!.mota).toBe(1);
    expect(m.perCamera.get("c2")!.mota).toBe(1);
    expect([m.crossCamera.gt, m.crossCamera.idsw]).toEqual([6, 0]);
    expect(m.crossCamera.mota).toBe(1);
    expect(m.crossCamera.idf1).toBe(1);
    expect(m.crossCamera.hypIds).toBe(1);
  });

  it("a missed hand-over is one switch and splits the identity", () => {
    // P1 holds c1's tracklet, P2 c2's: IDSW 1, MOTA = 1 - 1/6; IDTP 3 -> IDF1 = 6/12
    const m = evaluate(handover, [person("P1", "c1:1@c1"), person("P2", "c2:1@c2")]);
    expect(m.perCamera.get("c2")!.idsw).toBe(0);
    expect(m.crossCamera.idsw).toBe(1);
    expect(m.crossCamera.mota).toBeCloseTo(1 - 1 / 6, 12);
    expect(m.crossCamera.idf1).toBe(0.5);
    // the same when c2's tracklet was never linked to any person: it is its own identity
    const u = evaluate(handover, [person("P1", "c1:1@c1")]);
    expect(u.crossCamera.idsw).toBe(1);
    expect(u.crossCamera.idf1).toBe(0.5);
    expect(u.identities.has("unlinked:c2/c2:1")).toBe(true);
  });

  it("two people merged into one person: MOTA does not see it, IDF1 does", () => {
    // a in c1, b in c2, both linked into P1: no GT id changes its hypothesis, so IDSW 0 and MOTA 1;
    // P1 can be the identity of only one of them: IDTP 3 of 6 -> IDF1 0.5
    const s = merge(camera("c1", frames(1, 3, "a", "c1:1=a")), camera("c2", frames(5, 7, "b", "c2:1=b")));
    const m = evaluate(s, [person("P1", "c1:1@c1", "c2:1@c2")]);
    expect(m.crossCamera.idsw).toBe(0);
    expect(m.crossCamera.mota).toBe(1);
    expect(m.crossCamera.idf1).toBe(0.5);
  });

  it("overlapping views with a wrong link count the switch once", () => {
    // a seen by c1 at 100..400 and by c2 at 300..600; P1 = c1's tracklet, P2 = c2's.
    // GT 8 (4 + 4), first match in c2 (300) differs from the latest (P1): IDSW 1; later frames
    // keep their view's id. MOTA = 1 - 1/8; a-P1 4, a-P2 4 -> IDTP 4, IDF1 = 8/16
    const s = merge(camera("c1", frames(1, 4, "a", "c1:1=a")), camera("c2", frames(3, 6, "a", "c2:1=a")));
    const m = evaluate(s, [person("P1", "c1:1@c1"), person("P2", "c2:1@c2")]);
    expect(m.crossCamera.gt).toBe(8);
    expect(m.crossCamera.idsw).toBe(1);
    expect(m.crossCamera.mota).toBe(0.875);
    expect(m.crossCamera.idf1).toBe(0.5);
    // the correct link: no switch
    const ok = evaluate(s, [person("P1", "c1:1@c1", "c2:1@c2")]);
    expect(ok.crossCamera.idsw).toBe(0);
    expect(ok.crossCamera.idf1).toBe(1);
  });

  it("returning to a camera compares with the person's latest identity elsewhere", () => {
    // a: c1 (100-200, P1), c2 (400-500, P2), back in c1 (700-800, tid c1:1 again, P1):
    // switches at 400 (P1 -> P2) and at 700 (P2 -> P1): IDSW 2, while c1 alone sees no switch
    const s = merge(
      camera("c1", [...frames(1, 2, "a", "c1:1=a"), ...frames(4, 5, "", ""), ...frames(7, 8, "a", "c1:1=a")]),
      camera("c2", frames(4, 5, "a", "c2:1=a")),
    );
    const m = evaluate(s, [person("P1", "c1:1@c1"), person("P2", "c2:1@c2")]);
    expect(m.perCamera.get("c1")!.idsw).toBe(0);
    expect(m.crossCamera.idsw).toBe(2);
  });

  it("a tracklet in two person records is resolved by their time ranges", () => {
    // tid 1 tracks a in 100..600; the system split it into P1 (100-300) and P2 (400-600): IDSW 1
    const s = camera("c1", frames(1, 6, "a", "1=a"));
    const p1: SystemPerson = { person: "P1", distance_m: 0, tracklets: [["1", "c1", 100, 300]] };
    const p2: SystemPerson = { person: "P2", distance_m: 0, tracklets: [["1", "c1", 400, 600]] };
    const m = evaluate(s, [p2, p1]);
    expect(m.crossCamera.idsw).toBe(1);
    expect(m.identities.get("P1")!.get("a")).toBe(3);
    expect(m.identities.get("P2")!.get("a")).toBe(3);
  });
});
