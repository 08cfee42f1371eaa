import type { RequestHandler } from "express";
import { presentedSecret } from "../../access/credential.ts";
import { isAdmin, principalName, type Readers } from "../../access/reader.ts";
import { sendError } from "./api-error.ts";
import { refuseUnauthenticated } from "./access.ts";

/**
 * Admin routes (topology writes, video retention, API keys): `Authorization: Bearer <token>` with
 * FOOTFALL_ADMIN_TOKEN or an admin-role API key; else 401 (no or an invalid token) or 403 (a
 * viewer key). Only the header counts, never the wall's cookie: a page cannot be made to change
 * anything with a cookie the browser sends by itself.
 */
export function requireAdmin(readers: Readers): RequestHandler {
  return (req, res, next) => {
    const auth = req.headers.authorization;
    const secret = auth === undefined ? undefined : presentedSecret({ authorization: auth });
    if (secret === undefined) {
      return refuseUnauthenticated(res, false, "admin routes need Authorization: Bearer <admin token or admin key>");
    }
    const p = readers.authenticate(secret);
    if (!p) return refuseUnauthenticated(res, true, "the admin token or key is not valid");
    if (!isAdmin(p)) return sendError(res, 403, "forbidden", `${principalName(p)} is a viewer key; this route needs the admin token or an admin key`);
    res.locals.principal = p;
    next();
  };
}
