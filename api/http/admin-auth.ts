import type { RequestHandler } from "express";
import { keyIdOf } from "../../access/api-key.ts";
import { presentedSecret } from "../../access/credential.ts";
import { isAdmin, principalName, type Readers } from "../../access/reader.ts";
import { sendError } from "./api-error.ts";
import { refuseUnauthenticated } from "./access.ts";
import { loginGateOf } from "./login-gate.ts";

/**
 * Admin routes (topology writes, video retention, API keys): `Authorization: Bearer <token>` with
 * FOOTFALL_ADMIN_TOKEN or an admin-role API key; else 401 (no or an invalid token) or 403 (a
 * viewer key). Only the header counts, never the wall's cookie: a page cannot be made to change
 * anything with a cookie the browser sends by itself. The token goes through the app's login gate
 * (login-gate.ts) as in access.ts.
 */
export function requireAdmin(readers: Readers): RequestHandler {
  return async (req, res, next) => {
    const auth = req.headers.authorization;
    const secret = auth === undefined ? undefined : presentedSecret({ authorization: auth });
    if (secret === undefined) {
      return refuseUnauthenticated(res, false, "admin routes need Authorization: Bearer <admin token or admin key>");
    }
    const gate = loginGateOf(req);
    const keyId = keyIdOf(secret);
    if (gate && !(await gate.admit(req, res, keyId))) return;
    const p = readers.authenticate(secret);
    if (p) gate?.succeeded(req, keyId);
    else await gate?.failed(req, keyId);
    if (!p) return refuseUnauthenticated(res, true, "the admin token or key is not valid");
    if (!isAdmin(p)) return sendError(res, 403, "forbidden", `${principalName(p)} is a viewer key; this route needs the admin token or an admin key`);
    res.locals.principal = p;
    next();
  };
}
