import { Router, type RequestHandler } from "express";
import type { z } from "zod";
import { DeviceId, DoorwayId, SiteId, SpaceId } from "../contracts/ids.ts";
import { DeviceDef, DoorwayDef, SpaceDef, TopologyDoc } from "../contracts/topology.ts";
import type { TopologyStore } from "../topology/topology-store.ts";
import { badRequest, fromService, notFound, parseOr400 } from "./http/api-error.ts";
import { mayReadSite } from "./http/access.ts";

/**
 * Sites and their topology:
 *   GET /sites                        the sites the caller may read
 *   GET /sites/{site}/topology        (a key that may read the site; never any secret)
 *   PUT /sites/{site}/topology, PUT|DELETE /sites/{site}/spaces/{id}, /doorways/{id}, /devices/{id}
 *                                     (admin: the admin token or an admin key)
 * Secrets generated for devices are in the response of the change that made them, never again.
 */
export function topologyRoutes(deps: { topology: TopologyStore; admin: RequestHandler; json: RequestHandler }): Router {
  const { topology, admin, json } = deps;
  const router = Router();
  const site = (v: unknown) => parseOr400(SiteId, v, "site id");

  router.get("/sites", async (_req, res) => {
    const sites = await fromService("the topology store", topology.list());
    res.json({ sites: sites.filter((s) => mayReadSite(res, s)) });
  });

  router.get("/sites/:site/topology", async (req, res) => {
    const s = site(req.params.site);
    const t = await fromService("the topology store", topology.get(s));
    if (!t) throw notFound(`site "${s}" has no topology`);
    res.json(t);
  });

  router.put("/sites/:site/topology", admin, json, async (req, res) => {
    const s = site(req.params.site);
    const doc = parseOr400(TopologyDoc, req.body, "topology document");
    const change = await topology.put(s, doc);
    res.status(200).json({ topology: change.topology, generated_secrets: change.generatedSecrets });
  });

  /** An entity body: its definition; the id comes from the path (and must match if repeated in the body). */
  function entity<S extends z.ZodType<{ id: string }>>(schema: S, idSchema: z.ZodType<string>, rawId: unknown, body: unknown, what: string): z.output<S> {
    const id = parseOr400(idSchema, rawId, `${what} id`);
    const withId = body !== null && typeof body === "object" && !Array.isArray(body) ? { id, ...body } : body;
    const def = parseOr400(schema, withId, what);
    if (def.id !== id) throw badRequest(`${what} id in the body ("${def.id}") differs from the path ("${id}")`);
    return def;
  }

  router.put("/sites/:site/spaces/:id", admin, json, async (req, res) => {
    const s = site(req.params.site);
    const def = entity(SpaceDef, SpaceId, req.params.id, req.body, "space");
    const c = await topology.upsertSpace(s, def);
    res.status(c.created ? 201 : 200).json({ space: def, topology: c.topology, generated_secrets: c.generatedSecrets });
  });
  router.delete("/sites/:site/spaces/:id", admin, async (req, res) => {
    const c = await topology.deleteSpace(site(req.params.site), parseOr400(SpaceId, req.params.id, "space id"));
    res.json({ topology: c.topology });
  });

  router.put("/sites/:site/doorways/:id", admin, json, async (req, res) => {
    const s = site(req.params.site);
    const def = entity(DoorwayDef, DoorwayId, req.params.id, req.body, "doorway");
    const c = await topology.upsertDoorway(s, def);
    res.status(c.created ? 201 : 200).json({ doorway: def, topology: c.topology, generated_secrets: c.generatedSecrets });
  });
  router.delete("/sites/:site/doorways/:id", admin, async (req, res) => {
    const c = await topology.deleteDoorway(site(req.params.site), parseOr400(DoorwayId, req.params.id, "doorway id"));
    res.json({ topology: c.topology });
  });

  router.put("/sites/:site/devices/:id", admin, json, async (req, res) => {
    const s = site(req.params.site);
    const def = entity(DeviceDef, DeviceId, req.params.id, req.body, "device");
    const c = await topology.upsertDevice(s, def);
    const { secret: _secret, ...device } = def;
    res.status(c.created ? 201 : 200).json({ device, topology: c.topology, generated_secrets: c.generatedSecrets });
  });
  router.delete("/sites/:site/devices/:id", admin, async (req, res) => {
    const c = await topology.deleteDevice(site(req.params.site), parseOr400(DeviceId, req.params.id, "device id"));
    res.json({ topology: c.topology });
  });

  return router;
}
