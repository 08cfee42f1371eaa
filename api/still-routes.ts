import { Router } from "express";
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { DeviceId, SiteId } from "../contracts/ids.ts";
import { KV_STILLS, STILL_TTL_MS } from "../contracts/nats-layout.ts";
import { decodeStill } from "../contracts/still.ts";
import type { Logger } from "../infra/log.ts";
import type { DeviceRegistry } from "../topology/devices/device-registry.ts";
import type { Retention } from "../video/store/retention.ts";
import { fromService, notFound, parseOr400 } from "./http/api-error.ts";

const DAY_MS = 86_400_000;

export interface StillRoutesDeps {
  nc: NatsConnection;
  registry: DeviceRegistry;
  /** the chunk store's retention: a still is never served past the camera's video retention */
  retention?: Retention | undefined;
  /** wall clock, epoch ms (default Date.now) */
  clock?: (() => number) | undefined;
  log: Logger;
}

/**
 * Camera stills (the newest JPEG a camera agent sent, kept by the broker in KV ff_stills):
 *   GET /sites/{site}/cameras/{camera}/still   image/jpeg; X-Still-At: capture time (RFC 3339);
 *       X-Still-Frame-Width / -Height: the camera frame size the detection boxes are in;
 *       Cache-Control: no-store. 404 with a reason when there is none.
 * A still is served for STILL_TTL_MS after it was stored, and never longer than the camera's
 * video retention (warm + cold days) when that is shorter; one found older is deleted.
 */
export function stillRoutes(deps: StillRoutesDeps): Router {
  const clock = deps.clock ?? Date.now;
  const router = Router();
  let bucket: Promise<KV> | undefined;
  const stills = () => {
    if (!bucket) {
      bucket = new Kvm(deps.nc).open(KV_STILLS);
      bucket.catch(() => { bucket = undefined; });
    }
    return bucket;
  };

  /** How long a still of this camera may be served (ms). */
  const keptFor = (camera: string) => {
    const p = deps.retention?.effective(camera);
    return p ? Math.min(STILL_TTL_MS, (p.warm_days + p.cold_days) * DAY_MS) : STILL_TTL_MS;
  };

  router.get("/sites/:site/cameras/:camera/still", async (req, res) => {
    const site = parseOr400(SiteId, req.params.site, "site id");
    const camera = parseOr400(DeviceId, req.params.camera, "camera id");
    const device = deps.registry.get(camera);
    if (!device || device.site !== site || device.kind !== "camera") throw notFound(`site "${site}" has no camera "${camera}"`);
    const kv = await fromService("NATS KV", stills());
    const key = `${site}.${camera}`;
    const entry = await fromService("NATS KV", kv.get(key));
    if (!entry || entry.operation !== "PUT" || entry.length === 0) {
      throw notFound(`camera "${camera}" has sent no still in the last ${STILL_TTL_MS / 1000} s`);
    }
    const limit = keptFor(camera);
    if (clock() - entry.created.getTime() >= limit) {
      kv.delete(key, { previousSeq: entry.revision }).catch(() => {}); // a newer one may have come meanwhile
      throw notFound(limit < STILL_TTL_MS
        ? `camera "${camera}" has no still newer than its video retention (${limit / 1000} s)`
        : `camera "${camera}" has sent no still in the last ${STILL_TTL_MS / 1000} s`);
    }
    const still = decodeStill(entry.value);
    if (!still.ok) {
      deps.log.error({ site, camera, reason: still.detail }, "stored still unreadable");
      throw notFound(`the stored still of camera "${camera}" is unreadable`);
    }
    res.set({
      "content-type": "image/jpeg",
      "cache-control": "no-store",
      "x-still-at": new Date(still.still.header.ts).toISOString(),
      "x-still-frame-width": String(still.still.header.width),
      "x-still-frame-height": String(still.still.header.height),
    });
    res.end(Buffer.from(still.still.jpeg.buffer, still.still.jpeg.byteOffset, still.still.jpeg.byteLength));
  });

  return router;
}
