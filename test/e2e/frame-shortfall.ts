import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ActorKinds, actorSubject, STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { cameraFrameStream, type CameraSimOptions } from "../../firmware-sim/camera-run.ts";
import { influxClient } from "../../infra/provision.ts";
import { describeStreamState, readSubject } from "../support/stream-read.ts";

/**
 * When the cameras' per-second figures do not add up to the frames published: for each camera
 * second that counted fewer frames than the simulator rendered, the frames it should hold and
 * where they went: absent from FF_ACTORS (the store never had an acknowledged frame) or stored
 * there and not counted (the actor hosts lost or overwrote the count). Rendering the run again
 * gives the same frames, so the truth is per frame.
 */
export async function frameShortfall(
  o: { influxUrl: string; influxDb: string; partitions: number },
  nc: NatsConnection,
  sim: CameraSimOptions & { plan: { site: string } },
  maxLines = 12,
): Promise<string[]> {
  const site = sim.plan.site;
  const want = new Map<string, Map<number, number[]>>(); // camera -> second -> seqs
  for (const f of cameraFrameStream(sim).frames) {
    if (f.duplicate) continue;
    const sec = f.frameTs - (((f.frameTs % 1000) + 1000) % 1000);
    let cam = want.get(f.camera);
    if (!cam) want.set(f.camera, cam = new Map());
    const seqs = cam.get(sec) ?? [];
    seqs.push(f.seq);
    cam.set(sec, seqs);
  }
  const influx = influxClient(o.influxUrl, o.influxDb);
  const rows = await influx.query<{ time: Date; camera: string; frames: number; late: number; duplicates: number }>(
    `SELECT "frames", "late", "duplicates" FROM "camera_stats" WHERE "site" = '${site}' GROUP BY "camera"`);
  const got = new Map<string, { frames: number; late: number; duplicates: number }>();
  for (const r of rows) got.set(`${r.camera}@${r.time.getTime()}`, { frames: r.frames, late: r.late, duplicates: r.duplicates });

  const out: string[] = [];
  let shortSeconds = 0, extraSeconds = 0;
  for (const [camera, seconds] of want) {
    const short: Array<[number, number[], number, string]> = [];
    for (const [sec, seqs] of seconds) {
      const g = got.get(`${camera}@${sec}`);
      const counted = (g?.frames ?? 0) + (g?.late ?? 0);
      const point = g ? `point: frames ${g.frames}, late ${g.late}, duplicates ${g.duplicates}` : "no point";
      if (counted < seqs.length) short.push([sec, seqs, counted, point]);
      else if (counted > seqs.length) extraSeconds++;
    }
    if (short.length === 0) continue;
    shortSeconds += short.length;
    if (out.length >= maxLines) continue;
    const stored = new Set<number>();
    for (const m of await readSubject(nc, STREAM_ACTORS, actorSubject(ActorKinds.camera, `${site}.${camera}`, o.partitions))) {
      const body = m.json<{ type: string; seq?: number }>();
      if (body.type === "frame" && typeof body.seq === "number") stored.add(body.seq);
    }
    for (const [sec, seqs, counted, point] of short.slice(0, 3)) {
      const absent = seqs.filter((s) => !stored.has(s));
      out.push(`camera ${camera} second ${new Date(sec).toISOString()}: counted ${counted} of ${seqs.length} frames (${point}); ` +
        `not in FF_ACTORS: [${absent.join(", ")}]; stored: ${seqs.length - absent.length}`);
    }
  }
  const st = (await jetstreamManager(nc, { timeout: 5000 }).then((jsm) => jsm.streams.info(STREAM_ACTORS)).catch(() => undefined))?.state;
  out.unshift(`${shortSeconds} camera seconds counted fewer frames than rendered, ${extraSeconds} more` +
    (st ? `; FF_ACTORS holds ${describeStreamState(st)}` : ""));
  return out;
}
