import type { Request, RequestHandler, Response } from "express";
import type { Registry } from "prom-client";
import { keyIdOf } from "../../access/api-key.ts";
import { presentedSecret } from "../../access/credential.ts";
import { mayRead, principalName, type Principal, type Readers } from "../../access/reader.ts";
import type { Logger } from "../../infra/log.ts";
import { counter } from "../../infra/metrics.ts";
import type { DeviceRegistry } from "../../topology/devices/device-registry.ts";
import { sendError } from "./api-error.ts";
import { loginGateOf } from "./login-gate.ts";
import { matchRoutes } from "./route-table.ts";

/**
 * Who may call what, decided once per request before any route runs (apiAccess), from the route
 * the request will reach (the app's own route table, route-table.ts), never from a re-parsed path:
 *
 *   - a method the path does not answer: 405 with Allow (OPTIONS: 204 with Allow);
 *   - outside /api/v1 (/healthz, /metrics, the wall's pages): nothing to check here;
 *   - OPEN_ROUTES (the API description, signed chunk URLs, the device routes with their own
 *     HTTP Basic): nothing to check here;
 *   - every other /api/v1 route needs a principal (access/reader.ts): `Authorization: Bearer
 *     <admin token or API key>`, or for GET/HEAD the wall's `ff_key` cookie; else 401 with
 *     WWW-Authenticate. A presented secret goes through the app's login gate (login-gate.ts):
 *     after failed ones from the same address it waits, from a banned address it is not checked
 *     (429 with Retry-After), and a wrong key answers late after failed ones for the same key id;
 *   - a route with a `:site` parameter, or a request with a `site` query parameter: 403 unless the
 *     principal may read that site. So every route added under /sites/{site} is covered;
 *   - a route with a `:camera` or `:device` parameter: the device's site (registry) must be
 *     readable, else 404, exactly as for a device that does not exist (see below).
 *
 * Admin routes also use requireAdmin (admin-auth.ts). Routes naming a stored record (a query, a
 * job) check its site with mayReadOr404 once they have read it.
 *
 * 403 or 404: a site in the path or the query is the caller's own words, and any site the
 * principal may not read answers 403 whether it exists or not, so a 403 says nothing about other
 * sites. A camera, device, query or job id names a record the caller may not know: one of a site
 * the principal may not read answers 404, exactly as an unknown id does, so ids of other sites'
 * records are not revealed.
 */

export type OpenAs = "public" | "signed" | "device";

/** /api/v1 routes that need no API key (method, full route pattern). */
export const OPEN_ROUTES: ReadonlyArray<{ method: string; pattern: string; as: OpenAs }> = [
  { method: "GET", pattern: "/api/v1/openapi.yaml", as: "public" },
  // the URL's signature is the credential (handed out by the chunk list)
  { method: "GET", pattern: "/api/v1/chunks/:sha256", as: "signed" },
  // HTTP Basic with the device's id and secret
  { method: "POST", pattern: "/api/v1/dpus/:device/crossings", as: "device" },
  { method: "PUT", pattern: "/api/v1/cameras/:camera/chunks/:seq", as: "device" },
];

const GUARDED_PREFIX = "/api/v1/";
const SAFE = new Set(["GET", "HEAD"]);
const REALM = 'Bearer realm="footfall"';

function openAs(method: string, pattern: string): OpenAs | undefined {
  const m = method === "HEAD" ? "GET" : method;
  return OPEN_ROUTES.find((r) => r.method === m && r.pattern === pattern)?.as;
}

/**
 * The secret a request presents for reading: the Bearer header, or (GET and HEAD only, so a
 * cross-site form cannot change anything with it) the `ff_key` cookie.
 */
export function requestSecret(req: Request): string | undefined {
  return SAFE.has(req.method.toUpperCase())
    ? presentedSecret(req.headers)
    : presentedSecret({ authorization: req.headers.authorization });
}

/** The principal apiAccess (or requireAdmin) established for this request. */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

/** Whether a principal may read every site, present and future (the admin token, a key for "*"). */
export function readsEverySite(p: Principal): boolean {
  return p.kind === "admin-token" || p.key.sites === "*";
}

/** Whether this request's principal may read `site`; false when there is none. */
export function mayReadSite(res: Response, site: string): boolean {
  const p = principalOf(res);
  return p !== undefined && mayRead(p, site);
}

/**
 * For routes naming a stored record of a site (a query, a job): the caller's principal must
 * read `site` (undefined: a record of no known site, readable only by who reads every site).
 * Returns false when it may not; the route then answers 404, as for an unknown record.
 */
export function mayReadRecord(res: Response, site: string | undefined): boolean {
  const p = principalOf(res);
  if (!p) return false;
  return site === undefined ? readsEverySite(p) : mayRead(p, site);
}

/** 401 with WWW-Authenticate (RFC 6750). */
export function refuseUnauthenticated(res: Response, presented: boolean, reason: string): void {
  res.set("WWW-Authenticate", presented ? `${REALM}, error="invalid_token"` : REALM);
  sendError(res, 401, "unauthorized", reason);
}

export interface AccessDeps {
  readers: Readers;
  /** resolves the site of a camera or device named in the path */
  registry: DeviceRegistry;
  log: Logger;
  metrics: Registry;
}

export function apiAccess(deps: AccessDeps): RequestHandler {
  const { readers, registry, log } = deps;
  const refused = counter(deps.metrics, "footfall_api_access_refused_total",
    "API requests refused before their route ran, by status (401 no or bad key, 403 another site, 404 a device of another site, 405 method, 429 address banned after failed logins)", ["status"]);

  return async (req, res, next) => {
    const routes = matchRoutes(req.app, req.path);
    if (routes.length === 0) return next(); // no such path: 404 at the end
    const method = req.method.toUpperCase();
    const allowed = [...new Set(routes.flatMap((r) => r.methods))];
    const route = routes.find((r) => r.methods.includes(method));
    if (!route) {
      if (method === "OPTIONS") {
        res.set("Allow", [...allowed, "OPTIONS"].join(", ")).status(204).end();
        return;
      }
      refused.inc({ status: "405" });
      res.set("Allow", allowed.join(", "));
      return sendError(res, 405, "method_not_allowed", `${method} is not allowed on ${req.path}; it answers ${allowed.join(", ")}`);
    }
    if (!route.pattern.startsWith(GUARDED_PREFIX) || openAs(method, route.pattern)) return next();

    const refuse = (status: 401 | 403 | 404, code: string, reason: string, who: string) => {
      refused.inc({ status: String(status) });
      log.info({ who, ip: req.ip, method, path: req.path, status, reason }, "api request refused");
      if (status === 401) return refuseUnauthenticated(res, who !== "anonymous", reason);
      sendError(res, status, code, reason);
    };

    const secret = requestSecret(req);
    const gate = secret === undefined ? undefined : loginGateOf(req);
    const keyId = secret === undefined ? undefined : keyIdOf(secret);
    if (gate && !(await gate.admit(req, res, keyId))) {
      refused.inc({ status: "429" });
      return;
    }
    const principal = readers.authenticate(secret);
    if (secret !== undefined) {
      if (principal) gate?.succeeded(req, keyId);
      else await gate?.failed(req, keyId);
    }
    if (!principal) {
      if (secret === undefined) {
        const why = req.headers.authorization !== undefined
          ? "send the admin token or an API key as Authorization: Bearer <key>"
          : "this route needs an API key: Authorization: Bearer <key> (or the wall's ff_key cookie for GET)";
        return refuse(401, "unauthorized", why, "anonymous");
      }
      return refuse(401, "unauthorized", "the key is not valid (unknown, revoked or mistyped)", "invalid key");
    }
    res.locals.principal = principal;
    const who = principalName(principal);

    const sites = new Set<string>();
    if (route.params.site !== undefined) sites.add(route.params.site);
    const q = (req.query as Record<string, unknown>).site;
    for (const s of Array.isArray(q) ? q : [q]) if (typeof s === "string") sites.add(s);
    for (const site of sites) {
      if (!mayRead(principal, site)) return refuse(403, "forbidden", `${who} may not read site "${site}"`, who);
    }

    for (const name of ["camera", "device"] as const) {
      const id = route.params[name];
      if (id === undefined || readsEverySite(principal)) continue;
      const device = registry.get(id);
      if (!device || !mayRead(principal, device.site)) return refuse(404, "not_found", `no ${name} "${id}" in the sites this key may read`, who);
    }
    next();
  };
}
