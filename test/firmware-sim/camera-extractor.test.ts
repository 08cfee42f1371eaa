import { describe, expect, it } from "vitest";
import type { ExtractionRequest } from "../../models/extractor.ts";
import { SIMILAR_COLOURS } from "../../firmware-sim/camera-detector.ts";
import { cameraMall, gaussian } from "../../firmware-sim/camera-mall.ts";
import { simulateCameraFrames } from "../../firmware-sim/camera-run.ts";
import { mulberry32 } from "../../firmware-sim/random.ts";
import { SimulatedExtractor } from "../../firmware-sim/simulated-extractor.ts";

const T0 = Date.UTC(2026, 5, 1, 10);
const plan = cameraMall();
const { truth } = simulateCameraFrames({ plan, walkers: 150, durationMs: 6 * 60_000, startTs: T0, seed: 4 });
const extractor = new SimulatedExtractor(truth, { seed: 9 });

/** A tracklet as a tracker would report it: one person's stretch in one camera, positions with 15 cm noise. */
function tracklets(): Array<ExtractionRequest & { person: string }> {
  const rng = mulberry32(3);
  const spans = new Map<string, { camera: string; person: string; frames: number[] }>();
  for (const f of truth.frames) {
    for (const p of f.visible) {
      const k = `${f.camera}/${p}`;
      const s = spans.get(k) ?? { camera: f.camera, person: p, frames: [] };
      s.frames.push(f.frameTs);
      spans.set(k, s);
    }
  }
  let n = 0;
  return [...spans.values()].filter((s) => s.frames.length >= 10).map((s) => {
    const path = s.frames.map((ts): [number, number, number] => {
      const at = truth.positionAt(s.person, ts)!;
      return [ts, at.x + 0.15 * gaussian(rng), at.y + 0.15 * gaussian(rng)];
    });
    return { site: plan.site, camera: s.camera, tid: `${s.camera}:${++n}`, attribute: "shoes", from: path[0]![0], to: path[path.length - 1]![0], path, person: s.person };
  });
}

describe("simulated attribute extractor", () => {
  const reqs = tracklets();

  it("names its attributes", () => {
    expect(extractor.name).toBe("simulated");
    expect([...extractor.attributes].sort()).toEqual(["lower", "shoes", "upper"]);
  });

  it("finds the person a tracklet followed", () => {
    expect(reqs.length).toBeGreaterThan(300);
    const right = reqs.filter((r) => extractor.identify(r) === r.person).length;
    expect(right / reqs.length).toBeGreaterThan(0.95);
  });

  it("returns the person's shoes colour with conf 0.6-0.95, a similar colour ~10% of the time", async () => {
    let wrong = 0, answered = 0;
    const problems: string[] = [];
    for (const r of reqs) {
      const ev = await extractor.extract(r);
      const entries = Object.entries(ev);
      if (entries.length === 0) continue;
      answered++;
      if (entries.length !== 1) problems.push(`${r.tid}: ${JSON.stringify(ev)}`);
      const [value, conf] = entries[0]!;
      if (conf < 0.6 || conf > 0.95) problems.push(`${r.tid}: conf ${conf}`);
      const real = truth.person(extractor.identify(r)!)!.shoes;
      if (value !== real) {
        wrong++;
        if (!SIMILAR_COLOURS[real].includes(value as never)) problems.push(`${r.tid}: ${real} -> ${value}`);
      }
    }
    expect(problems).toEqual([]);
    expect(answered / reqs.length).toBeGreaterThan(0.95);
    expect(wrong / answered).toBeGreaterThan(0.06);
    expect(wrong / answered).toBeLessThan(0.14);
  });

  it("answers upper and lower too, and the same request always gets the same answer", async () => {
    const r = reqs[0]!;
    const p = truth.person(r.person)!;
    const upper = await extractor.extract({ ...r, attribute: "upper" });
    expect(Object.keys(upper)).toHaveLength(1);
    expect([p.upper, ...SIMILAR_COLOURS[p.upper]]).toContain(Object.keys(upper)[0]);
    expect(await extractor.extract({ ...r, attribute: "upper" })).toEqual(upper);
    expect(await new SimulatedExtractor(truth, { seed: 9 }).extract(r)).toEqual(await extractor.extract(r));
  });

  it("says nothing for another site, an unknown camera or attribute, or a path where nobody was", async () => {
    const r = reqs[0]!;
    expect(await extractor.extract({ ...r, site: "elsewhere" })).toEqual({});
    expect(await extractor.extract({ ...r, camera: "cam-nope" })).toEqual({});
    expect(await extractor.extract({ ...r, attribute: "hat" })).toEqual({});
    // before anybody arrived
    const empty = { ...r, from: T0 - 60_000, to: T0 - 50_000, path: [[T0 - 60_000, r.path[0]![1], r.path[0]![2]] as [number, number, number]] };
    expect(await extractor.extract(empty)).toEqual({});
    // in the camera's span, but far from everyone (a wall of another shop)
    const far = { ...r, path: r.path.map(([t]) => [t, -50, -50] as [number, number, number]) };
    expect(await extractor.extract(far)).toEqual({});
  });
});
