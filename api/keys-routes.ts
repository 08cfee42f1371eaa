import { Router, type RequestHandler } from "express";
import { CreateKeyRequest, KeyId } from "../contracts/api-keys.ts";
import { principalName, type Principal } from "../access/reader.ts";
import type { KeyStore } from "../access/key-store.ts";
import type { Logger } from "../infra/log.ts";
import { badRequest, fromService, notFound, parseOr400 } from "./http/api-error.ts";
import { principalOf } from "./http/access.ts";

/**
 * API keys (admin: the admin token or an admin key):
 *   POST   /keys       {role: "viewer" | "admin", sites: [...] | "*", name} -> 201 {id, key}; the key is shown once
 *   GET    /keys       {keys: [{id, name, role, sites, created}]} (never a key or its hash)
 *   DELETE /keys/{id}  204; 404 for an unknown key. Every API, gateway and broker process stops
 *                      accepting the key within moments (the KV ff_keys watch).
 * An admin key may do everything the admin token does, creating keys for any site included, so
 * it covers every site: its sites must be "*".
 * Creations and revocations are logged with who made them (never the key).
 */
export function keysRoutes(deps: { keys: KeyStore; admin: RequestHandler; json: RequestHandler; log: Logger }): Router {
  const { keys, admin, json, log } = deps;
  const router = Router();
  const who = (p: Principal | undefined) => (p ? principalName(p) : "unknown");

  router.post("/keys", admin, json, async (req, res) => {
    const body = parseOr400(CreateKeyRequest, req.body, "key request");
    if (body.role === "admin" && body.sites !== "*") {
      throw badRequest('invalid key request: sites: an admin key covers every site (it can create keys for any), so its sites must be "*"');
    }
    const created = await fromService("the key store", keys.create(body));
    log.info({ who: who(principalOf(res)), key: created.id, role: body.role, sites: body.sites, name: body.name }, "api key created");
    res.status(201).json(created);
  });

  router.get("/keys", admin, (_req, res) => {
    res.json({ keys: keys.list() });
  });

  router.delete("/keys/:id", admin, async (req, res) => {
    const id = parseOr400(KeyId, req.params.id, "key id");
    if (!(await fromService("the key store", keys.revoke(id)))) throw notFound(`no key "${id}"`);
    log.info({ who: who(principalOf(res)), key: id }, "api key revoked");
    res.status(204).end();
  });

  return router;
}
