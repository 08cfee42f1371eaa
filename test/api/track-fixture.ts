import { InfluxDB, type IPoint } from "influx";
import { influxOptions } from "../../infra/provision.ts";
import type { JsMsg } from "@nats-io/jetstream";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { PersonAttrsMsg } from "../../contracts/track-messages.ts";
import { M, personPointNs, trackSchemas, visitPointNs } from "../../contracts/track-store.ts";
import type { TopologyDocIn } from "../../contracts/topology.ts";
import type { AttributeEvidence, AttributeExtractor, ExtractionRequest } from "../../models/extractor.ts";
import type { ApiHarness } from "./api-harness.ts";

/**
 * Test data of the camera-pipeline API tests: a small mall, person tracks as the person actor
 * writes them (contracts/track-store.ts), a fake of our own AttributeExtractor interface, and a
 * stand-in for the person actor that applies PersonAttrsMsg (the real actor is tested on its own).
 */

export const H = 3_600_000;
export const DAY = 24 * H;
export const iso = (ms: number) => new Date(ms).toISOString();

const calibration = {
  image_points: [[0, 0], [1000, 0], [1000, 1000], [0, 1000]] as [number, number][],
  floor_points: [[0, 0], [40, 0], [40, 20], [0, 20]] as [number, number][],
};

/** hall (y 0..10) and shop (y 10..20), 40 m wide; cam-a and cam-b see them, cam-a counts a line "door" at x = 20. */
export const mallTopology: TopologyDocIn = {
  spaces: [
    { id: "hall", name: "Hall", polygon: [[0, 0], [40, 0], [40, 10], [0, 10]] },
    { id: "shop", name: "Shop", polygon: [[0, 10], [40, 10], [40, 20], [0, 20]] },
  ],
  doorways: [{ id: "front", entering_to: "hall", exiting_to: "outside" }],
  devices: [
    { id: "dpu-front", kind: "dpu", doorway: "front", secret: "front-secret" },
    { id: "cam-a", kind: "camera", calibration, sees: ["hall"], lines: [{ id: "door", a: [20, 0], b: [20, 10] }] },
    { id: "cam-b", kind: "camera", calibration, sees: ["hall", "shop"] },
    { id: "cam-c", kind: "camera", calibration, sees: ["shop"] },
  ],
};

export interface PersonSpec {
  person: string;
  start: number;
  end: number;
  distance_m: number;
  attrs: Record<string, { value: string; conf: number }>;
  path: Array<[number, number, number]>;
  visits: Array<[string, number, number]>;
  tracklets: Array<[string, string, number, number]>;
  ended: boolean;
}

/** The person point the person actor would write for `p`. */
export function personPoint(site: string, p: PersonSpec): IPoint {
  return {
    measurement: M.person,
    tags: { site },
    fields: {
      person: p.person, start: p.start, end: p.end, distance_m: p.distance_m,
      upper: p.attrs.upper?.value ?? "", upper_conf: p.attrs.upper?.conf ?? 0,
      lower: p.attrs.lower?.value ?? "", lower_conf: p.attrs.lower?.conf ?? 0,
      attrs: JSON.stringify(p.attrs), path: JSON.stringify(p.path), visits: JSON.stringify(p.visits),
      tracklets: JSON.stringify(p.tracklets),
      cameras: `|${[...new Set(p.tracklets.map((t) => t[1]))].join("|")}|`,
      spaces: `|${[...new Set(p.visits.map((v) => v[0]))].join("|")}|`,
      obs: p.path.length, ended: p.ended,
    },
    timestamp: personPointNs(p.start, p.person),
  };
}

/** A writer with the camera pipeline's schemas (integers stay integers). */
export function trackWriter(h: ApiHarness): InfluxDB {
  return new InfluxDB({ ...influxOptions(h.services.influxUrl, h.cfg.influxDb), schema: trackSchemas(h.cfg.influxDb) });
}

/** A small deterministic generator (tests never use Math.random). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const UPPERS = ["blue", "red", "black"] as const;
const LOWERS = ["black", "blue", "grey"] as const;

/**
 * `n` persons starting from `base` every ~100 s, walking 1-20 min through the hall (y < 10) and
 * some into the shop, with a path point every 10 s, two tracklets (cam-a then cam-b), attributes
 * upper/lower (and bag for some) with confidences, visits matching their path.
 */
export function generatePersons(n: number, base: number, seed = 1, prefix = "p"): PersonSpec[] {
  const rnd = lcg(seed);
  const out: PersonSpec[] = [];
  for (let i = 0; i < n; i++) {
    const start = base + i * 100_000 + Math.floor(rnd() * 50_000);
    const steps = 6 + Math.floor(rnd() * 114);
    const toShop = rnd() < 0.4;
    const path: Array<[number, number, number]> = [];
    let x = 1 + rnd() * 38, y = 1 + rnd() * 8;
    for (let k = 0; k <= steps; k++) {
      path.push([start + k * 10_000, Math.round(x * 100) / 100, Math.round(y * 100) / 100]);
      x = Math.min(39.5, Math.max(0.5, x + (rnd() - 0.5) * 8));
      const target = toShop && k > steps / 2 ? 15 : 5;
      y = Math.min(19.5, Math.max(0.5, y + (target - y) * 0.3 + (rnd() - 0.5)));
    }
    const end = path[path.length - 1]![0];
    const visits: Array<[string, number, number]> = [];
    for (const [t, , py] of path) {
      const space = py < 10 ? "hall" : "shop";
      const last = visits[visits.length - 1];
      if (last && last[0] === space) last[2] = t + 1000;
      else visits.push([space, t, t + 1000]);
    }
    const mid = path[Math.floor(path.length / 2)]![0];
    const attrs: PersonSpec["attrs"] = {
      upper: { value: UPPERS[Math.floor(rnd() * 3)]!, conf: Math.round(rnd() * 100) / 100 },
      lower: { value: LOWERS[Math.floor(rnd() * 3)]!, conf: Math.round(rnd() * 100) / 100 },
    };
    if (rnd() < 0.5) attrs.bag = { value: rnd() < 0.5 ? "yes" : "no", conf: Math.round(rnd() * 100) / 100 };
    out.push({
      person: `${prefix}${i + 1}`, start, end, distance_m: Math.round(rnd() * 50_000) / 100, attrs, path, visits,
      tracklets: [[`cam-a:${i * 2 + 1}`, "cam-a", start, mid], [`cam-b:${i * 2 + 2}`, "cam-b", mid + 1, end]],
      ended: rnd() < 0.8,
    });
  }
  return out;
}

/** camera_stats and camera_attrs points of a camera every `stepMs` over [from, to): detections and the attributes they carried. */
export function cameraSeconds(site: string, camera: string, from: number, to: number, attrs: readonly string[], stepMs = 1000, detections = 3): IPoint[] {
  const pts: IPoint[] = [];
  for (let t = from; t < to; t += stepMs) {
    pts.push({ measurement: M.cameraStats, tags: { site, camera }, fields: { frames: 10, detections, duplicates: 0, late: 0, tracks: 1 }, timestamp: new Date(t) });
    for (const attr of attrs) pts.push({ measurement: M.cameraAttrs, tags: { site, camera, attr }, fields: { n: detections }, timestamp: new Date(t) });
  }
  return pts;
}

export function visitPoint(site: string, space: string, person: string, enter: number, leave: number): IPoint {
  return {
    measurement: M.zoneVisit, tags: { site, space },
    fields: { person, enter, leave, dwell_s: (leave - enter) / 1000 },
    timestamp: visitPointNs(enter, person),
  };
}

/** A fake of our own extractor interface, answering from a table of tracklet -> value; calls can be held. */
export class FakeExtractor implements AttributeExtractor {
  readonly name = "fake";
  readonly calls: ExtractionRequest[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  constructor(readonly attributes: readonly string[], private readonly truth: ReadonlyMap<string, string>) {}

  /** Holds every call (made from now on, or waiting) until release(). */
  hold(): void {
    if (!this.gate) this.gate = new Promise((r) => { this.open = r; });
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
    this.open = undefined;
  }

  async extract(req: ExtractionRequest): Promise<AttributeEvidence> {
    this.calls.push(req);
    await this.gate;
    const v = this.truth.get(req.tid);
    return v === undefined ? {} : { [v]: 0.8 };
  }
}

/**
 * Plays the person actor for PersonAttrsMsg only: reads them from JetStream (FF_ACTORS, person
 * subjects), adds the votes to the person's attributes (value with the most votes, conf = its
 * share) once per (person, job) and rewrites the person point at the same time.
 */
export class PersonActorStandIn {
  readonly applied: PersonAttrsMsg[] = [];
  private stopped = false;
  private iter: { stop(): void } | undefined;
  private readonly done: Promise<void>;
  private readonly votes = new Map<string, Record<string, Record<string, number>>>();

  constructor(private readonly nc: NatsConnection, private readonly influx: InfluxDB, private readonly db: string) {
    this.done = this.run().catch(() => {});
  }

  private async run(): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(STREAM_ACTORS, { filter_subjects: "act.*.person.>" });
    const iter = await consumer.consume({ max_messages: 64, expires: 2000 });
    this.iter = iter;
    for await (const m of iter) {
      if (this.stopped) break;
      await this.handle(m);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const body = PersonAttrsMsg.safeParse(m.json());
    if (!body.success) return;
    const msg = body.data;
    const key = `${msg.person}:${msg.job}`;
    if (this.applied.some((a) => `${a.person}:${a.job}` === key)) return;
    this.applied.push(msg);
    const rows = await this.influx.query<Record<string, unknown>>(
      `SELECT * FROM "${this.db}"."raw"."person" WHERE "site" = '${msg.site}' AND "person" = '${msg.person}'`,
    );
    const row = rows[0];
    if (!row) return;
    const votes = this.votes.get(msg.person) ?? {};
    for (const [attr, vs] of Object.entries(msg.votes)) {
      const into = (votes[attr] ??= {});
      for (const [value, c] of Object.entries(vs)) into[value] = (into[value] ?? 0) + c;
    }
    this.votes.set(msg.person, votes);
    const attrs = JSON.parse(String(row.attrs)) as Record<string, { value: string; conf: number }>;
    for (const [attr, vs] of Object.entries(votes)) {
      const total = Object.values(vs).reduce((a, b) => a + b, 0);
      const [value, best] = Object.entries(vs).sort((a, b) => b[1] - a[1])[0]!;
      attrs[attr] = { value, conf: best / total };
    }
    const { time, site: _site, ...fields } = row as Record<string, unknown> & { time: { getNanoTime(): string } };
    await this.influx.writePoints([{
      measurement: M.person, tags: { site: msg.site },
      fields: { ...fields, attrs: JSON.stringify(attrs) } as IPoint["fields"],
      timestamp: time.getNanoTime(),
    }]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.iter?.stop();
    await this.done;
  }
}
