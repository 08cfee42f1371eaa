import type { HypothesisFrame, SystemPerson, TruthFrame } from "./types.ts";

/**
 * Compact hand-written scenes for the metric tests. A frame is [ts, visible, tracks]:
 * visible "a b" lists the persons in view; tracks "1=a 9=-" says tid 1 matched a detection of a
 * and tid 9 one of a false positive. Every person a track names gets a detection; a visible
 * person no track names was missed (or detected but not tracked: same for the metrics).
 */
export type FrameSpec = readonly [ts: number, visible: string, tracks: string];

export interface Scene {
  truth: TruthFrame[];
  hypotheses: HypothesisFrame[];
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);

export function camera(name: string, specs: readonly FrameSpec[]): Scene {
  const truth: TruthFrame[] = [];
  const hypotheses: HypothesisFrame[] = [];
  for (const [ts, visible, tracks] of specs) {
    const detections: [string, string | null][] = [];
    const pairs: [string, string, number, number][] = [];
    for (const t of words(tracks)) {
      const [tid, who] = t.split("=") as [string, string];
      const oid = who === "-" ? `${ts}/fp/${tid}` : `${ts}/${who}/${tid}`;
      detections.push([oid, who === "-" ? null : who]);
      pairs.push([tid, oid, 0, 0]);
    }
    truth.push({ camera: name, frameTs: ts, visible: words(visible), detections });
    if (pairs.length) hypotheses.push({ camera: name, frameTs: ts, tracks: pairs });
  }
  return { truth, hypotheses };
}

export function merge(...scenes: Scene[]): Scene {
  return { truth: scenes.flatMap((s) => s.truth), hypotheses: scenes.flatMap((s) => s.hypotheses) };
}

/** A system person holding whole tracklets: person("P1", "c1:1@c1", ...) */
export function person(id: string, ...tracklets: string[]): SystemPerson {
  return {
    person: id,
    distance_m: 0,
    tracklets: tracklets.map((t) => {
      const [tid, cam] = t.split("@") as [string, string];
      return [tid, cam, 0, Number.MAX_SAFE_INTEGER] as const;
    }),
  };
}
