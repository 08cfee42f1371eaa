import { describe, expect, it } from "vitest";
import type { IPoint } from "influx";
import { Registry } from "prom-client";
import type { PersonUpdate } from "../../../contracts/events.ts";
import type { ZonePersonMsg } from "../../../contracts/track-messages.ts";
import { pointInPolygon } from "../../../topology/geometry/polygon.ts";
import { linkerBehavior } from "../../../actors/linker/behavior.ts";
import { personBehavior } from "../../../actors/person-track/behavior.ts";
import type { ActorBehavior } from "../../../actors/runtime/types.ts";
import { zoneBehavior } from "../../../actors/zone/behavior.ts";
import { meta, RecordingContext } from "../occupancy/recording-context.ts";
import { prng } from "../occupancy/ground-truth.ts";
import { feed, sites, T0, topology, type Sighting } from "../linker/site-fixture.ts";

/**
 * The three actors together, without services: linker -> person actors -> zone actors, each
 * message routed by hand, flushes after every message. Walkers go along the hall (seen by cam-a
 * and cam-b, which overlap for x 14..22), turn into the shop at x = 20 and walk on (seen by
 * cam-c once y >= 13, after a 2-3 s gap without any camera).
 */

type Pos = (t: number) => [number, number];
const S = 1000;

interface Walker { id: number; start: number; pos: Pos; end: number; upper: string; lower: string }

function walker(id: number, rnd: () => number): Walker {
  const start = T0 + Math.floor(rnd() * 90) * S + Math.floor(rnd() * 5) * 200;
  const speed = 1 + rnd() * 0.5, y0 = 1 + rnd() * 7;
  const legs: Array<[number, number]> = [[0, y0], [20, y0], [20, 15], [35, 15]];
  const times = [start];
  for (let i = 1; i < legs.length; i++) times.push(times[i - 1]! + (Math.hypot(legs[i]![0] - legs[i - 1]![0], legs[i]![1] - legs[i - 1]![1]) / speed) * S);
  const pos: Pos = (t) => {
    let i = 1;
    while (i < legs.length - 1 && t > times[i]!) i++;
    const f = Math.min(1, Math.max(0, (t - times[i - 1]!) / (times[i]! - times[i - 1]!)));
    return [legs[i - 1]![0] + f * (legs[i]![0] - legs[i - 1]![0]), legs[i - 1]![1] + f * (legs[i]![1] - legs[i - 1]![1])];
  };
  const colours = ["blue", "red", "green", "black", "white"];
  return { id, start, pos, end: times.at(-1)!, upper: colours[Math.floor(rnd() * colours.length)]!, lower: colours[Math.floor(rnd() * 4)]! };
}

const views: Record<string, (p: [number, number]) => boolean> = {
  "cam-a": ([x, y]) => x <= 22 && y <= 10,
  "cam-b": ([x, y]) => x >= 14 && y <= 9,
  "cam-c": ([, y]) => y >= 13,
};

function sightingsOf(w: Walker): Sighting[] {
  const out: Sighting[] = [];
  for (const [camera, sees] of Object.entries(views)) {
    let from: number | undefined, to: number | undefined;
    for (let t = Math.ceil(w.start / 200) * 200; t <= w.end; t += 200) if (sees(w.pos(t))) { from ??= t; to = t; }
    if (from !== undefined && to !== undefined && to - from >= 1000) {
      out.push({ camera, tid: `${camera}:${w.id}`, from, to, pos: w.pos, votes: { upper: { [w.upper]: 0.8 }, lower: { [w.lower]: 0.6 } } });
    }
  }
  return out;
}

class Pipeline {
  readonly linker = linkerBehavior({ sites, registry: new Registry() });
  readonly person = personBehavior({ sites, registry: new Registry() });
  readonly zone = zoneBehavior({ sites, registry: new Registry() });
  readonly linkerState = this.linker.initialState("mall");
  readonly states = new Map<string, unknown>();
  readonly writes: IPoint[] = [];
  readonly updates = new Map<string, PersonUpdate>();

  run(msgs: readonly unknown[]): void {
    const ctx = new RecordingContext("linker", "mall");
    for (const m of msgs) {
      this.linker.handle(this.linkerState, m, ctx, meta());
      for (const s of ctx.take().sends) this.deliver(this.person, s.id, s.body);
    }
  }

  private deliver(b: ActorBehavior<any>, id: string, body: unknown): void {
    let state = this.states.get(`${b.kind}:${id}`);
    if (state === undefined) this.states.set(`${b.kind}:${id}`, (state = b.initialState(id)));
    const ctx = new RecordingContext(b.kind, id);
    b.handle(state, body, ctx, meta());
    b.flush!(state, ctx);
    const out = ctx.take();
    this.writes.push(...out.writes);
    for (const e of out.emits) this.updates.set((e.body as PersonUpdate).person, e.body as PersonUpdate);
    for (const s of out.sends) this.deliver(this.zone, s.id, s.body as ZonePersonMsg);
  }
}

describe("linker, person-track and zone actors together", () => {
  it("turn 40 walkers seen by three cameras into 40 persons with their distances and the zones' occupancy", () => {
    const rnd = prng(11);
    const walkers = Array.from({ length: 40 }, (_, i) => walker(i + 1, rnd));
    const sightings = walkers.flatMap(sightingsOf);
    const msgs = feed(sightings, { jitter: 0.1, seed: 5 });
    // a camera frame after everyone left, past the silence period, ends every person
    const last = msgs.at(-1)!.frameTs;
    msgs.push({ type: "tracklets", site: "mall", camera: "cam-a", seq: 1e6, frameTs: last + 61 * S, updates: [] });
    const p = new Pipeline();
    p.run(msgs);

    expect(p.updates.size).toBe(40);
    for (const u of p.updates.values()) expect(u.ended).toBe(true);

    // linking: every tracklet of a walker in one person; distance: what the cameras saw of each walk (first
    // to last sighting), within 5 % over all walkers
    const persons = new Map<string, IPoint>();
    for (const w of p.writes) if (w.measurement === "person") persons.set(w.fields!.person as string, w);
    let seen = 0, measured = 0, linked = 0;
    for (const w of walkers) {
      const mine = sightings.filter((s) => s.tid.endsWith(`:${w.id}`));
      const from = Math.min(...mine.map((s) => s.from)), to = Math.max(...mine.map((s) => s.to));
      for (let t = from; t < to; t += 100) seen += Math.hypot(w.pos(t + 100)[0] - w.pos(t)[0], w.pos(t + 100)[1] - w.pos(t)[1]);
      const point = [...persons.values()].find((pt) => JSON.parse(pt.fields!.tracklets as string).some(([tid]: [string]) => tid === `cam-a:${w.id}`))!;
      const tids = JSON.parse(point.fields!.tracklets as string).map(([tid]: [string]) => tid).sort();
      if (JSON.stringify(tids) === JSON.stringify(mine.map((s) => s.tid).sort())) {
        linked++;
        expect(point.fields!.upper).toBe(w.upper);
      }
      measured += point.fields!.distance_m as number;
    }
    // two walkers in the same clothes leaving the hall at the same place within a few tenths of a second are
    // ambiguous at the hand-over: allow a few swaps (seed 11 has none; seeds 1-16 have at most one pair)
    expect(linked).toBeGreaterThanOrEqual(36);
    expect(Math.abs(measured - seen) / seen).toBeLessThan(0.05);

    // occupancy: the zones' per-second counts against where the walkers really were
    const counts = new Map<string, number>();
    for (const w of p.writes) if (w.measurement === "zone_occupancy") counts.set(`${w.tags!.space}@${String(w.timestamp).slice(0, -6)}`, w.fields!.count as number);
    for (const space of topology.spaces) {
      let truthSum = 0, countSum = 0, absErr = 0, n = 0;
      for (let t = T0; t < last; t += S) {
        const truth = walkers.filter((w) => {
          const tracked = sightings.filter((s) => s.tid.endsWith(`:${w.id}`));
          const from = Math.min(...tracked.map((s) => s.from)), to = Math.max(...tracked.map((s) => s.to));
          return t + 500 >= from && t + 500 <= to && pointInPolygon(w.pos(t + 500), space.polygon!);
        }).length;
        const got = counts.get(`${space.id}@${t}`) ?? 0;
        truthSum += truth;
        countSum += got;
        absErr += Math.abs(got - truth);
        n++;
      }
      // person-seconds within 5 %, and off by less than 0.4 persons per second on average (visits are
      // second-aligned, and nobody sees the 2-3 s between hall and shop)
      expect(Math.abs(countSum - truthSum) / truthSum, space.id).toBeLessThan(0.05);
      expect(absErr / n, space.id).toBeLessThan(0.4);
    }
    // every closed visit was written once the persons ended: one hall and one shop visit per walker
    const visits = p.writes.filter((w) => w.measurement === "zone_visit" && (w.fields!.dwell_s as number) > 0);
    expect(new Set(visits.map((v) => `${v.tags!.space}:${v.timestamp}`)).size).toBe(80);
  });
});
