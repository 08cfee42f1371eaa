import { Router } from "express";
import { z } from "zod";
import { fromService, parseOr400 } from "../http/api-error.ts";
import { siteTopology, type TrackContext } from "./track-context.ts";
import { token } from "./track-filters.ts";

/**
 * GET /sites/{site}/cameras: health of every camera of the site's topology (and of any other
 * camera with data): state, last_seen, fps and detections_per_s over the last minute,
 * reported_fps and resolution from the last heartbeat (camera-health.ts).
 */
export function cameraRoutes(ctx: TrackContext): Router {
  const router = Router();

  router.get("/sites/:site/cameras", async (req, res) => {
    parseOr400(z.strictObject({}), req.query, "query");
    const site = parseOr400(z.object({ site: token("site") }), req.params, "path").site;
    const topo = await siteTopology(ctx, site);
    const ids = topo.devices.filter((d) => d.kind === "camera").map((d) => d.id);
    const now = Date.now();
    const cameras = await fromService("InfluxDB", ctx.cameras.health(site, ids, now));
    res.json({ site, at: new Date(now).toISOString(), cameras });
  });

  return router;
}
