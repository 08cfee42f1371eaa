import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { sendError } from "./api-error.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Topology and admin routes: `Authorization: Bearer <FOOTFALL_ADMIN_TOKEN>`, else 401. */
export function requireAdmin(token: string): RequestHandler {
  const want = digest(token);
  return (req, res, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "");
    if (!m) {
      res.set("WWW-Authenticate", 'Bearer realm="footfall-admin"');
      return sendError(res, 401, "unauthorized", "admin routes need Authorization: Bearer <admin token>");
    }
    if (!timingSafeEqual(digest(m[1]!), want)) {
      res.set("WWW-Authenticate", 'Bearer realm="footfall-admin", error="invalid_token"');
      return sendError(res, 401, "unauthorized", "the admin token is not valid");
    }
    next();
  };
}
