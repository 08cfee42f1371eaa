import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { Router, type Request, type Response } from "express";
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { SiteId } from "../../contracts/ids.ts";
import { KV_STILLS } from "../../contracts/nats-layout.ts";
import { WALL_ASSETS_PATH, WALL_PATH, type WallStills } from "../../contracts/wall.ts";
import { KEY_COOKIE, presentedSecret } from "../../access/credential.ts";
import type { LoginThrottle } from "../../access/login-throttle.ts";
import { mayRead, principalName, type Principal, type Readers } from "../../access/reader.ts";
import type { Logger } from "../../infra/log.ts";
import type { TopologyStore } from "../../topology/topology-store.ts";
import { wallPlanOf } from "./wall-plan.ts";

/** Where dashboards/wall/build.ts writes the bundle (git-ignored). */
export const WALL_DIST = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist");
export const WALL_ASSETS = ["wall.js", "wall.css", "favicon.svg"] as const;

/** The key cookie lives as long as Chromium allows (400 days): a wall screen keeps its key across reboots. */
const COOKIE_MAX_AGE_S = 400 * 24 * 3600;
/** stills.json answers from a listing at most this old (many walls, one KV listing) */
const STILLS_CACHE_MS = 3000;

/**
 * The page may load only its own script and styles, talk only to its own origin (REST and the
 * live websocket) and show images from its origin or blob: URLs (camera stills). No inline script.
 */
export const WALL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export interface WallRoutesDeps {
  /** who holds which key */
  readers: Readers;
  topology: TopologyStore;
  /** NATS, for which cameras have a still (KV ff_stills); without it no camera tile */
  nc?: NatsConnection | undefined;
  log: Logger;
  /** the bundle's folder (default WALL_DIST) */
  distDir?: string;
  /** failed logins throttled per address and key id (the process's HTTP throttle) */
  throttle?: LoginThrottle | undefined;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function secureHeaders(res: Response): void {
  res.set({
    "Content-Security-Policy": WALL_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
  });
}

/** A small page of static text (401, 403, 404, 503): the wall's stylesheet, no script. */
function messagePage(res: Response, status: number, title: string, lines: string[], extraHead = ""): void {
  secureHeaders(res);
  const body = lines.map((l) => `<p>${l}</p>`).join("\n    ");
  res.status(status).type("html").send(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width,initial-scale=1">
  <title>${escapeHtml(title)} · footfall wall</title>
  <link rel="icon" href="${WALL_ASSETS_PATH}/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="${WALL_ASSETS_PATH}/wall.css">${extraHead}
</head>
<body class="wall-message">
  <main>
    <h1>${escapeHtml(title)}</h1>
    ${body}
  </main>
</body>
</html>
`);
}

/**
 * The wall screens:
 *   GET /wall/{site}?key=<key>   a valid key is traded for the HttpOnly cookie ff_key and a 303 to
 *                                /wall/{site}, so the key leaves the address bar (an unknown key: 401 page)
 *   GET /wall/{site}             the page, for a key (cookie or Bearer) that may read the site;
 *                                401 page without one, 403 page for another site's key
 *   GET /wall/{site}/plan.json   what the page draws of the topology (contracts/wall.ts), same access
 *   GET /wall/{site}/stills.json the site's cameras that have a still now, same access
 *   GET /wall/assets/...         the bundle (public: it holds no data)
 */
export function wallRoutes(deps: WallRoutesDeps): Router {
  const dist = deps.distDir ?? WALL_DIST;
  const log = deps.log.child({ component: "wall" });
  const router = Router();

  /** ?v= of an asset: a hash of its bytes, recomputed when the file changes. */
  const versions = new Map<string, { mtimeMs: number; v: string }>();
  const versionOf = (file: string): string | undefined => {
    const p = path.join(dist, file);
    let st: fs.Stats;
    try { st = fs.statSync(p); } catch { return undefined; }
    const held = versions.get(file);
    if (held && held.mtimeMs === st.mtimeMs) return held.v;
    const v = createHash("sha256").update(fs.readFileSync(p)).digest("hex").slice(0, 12);
    versions.set(file, { mtimeMs: st.mtimeMs, v });
    return v;
  };

  router.use(WALL_ASSETS_PATH, express.static(dist, {
    index: false, dotfiles: "ignore", fallthrough: true,
    setHeaders: (res) => { res.setHeader("X-Content-Type-Options", "nosniff"); res.setHeader("Cache-Control", "no-cache"); },
  }));
  router.use(WALL_ASSETS_PATH, (_req, res) => { res.status(404).type("text").send("no such asset\n"); });

  type Access =
    | { ok: true; who: string }
    | { ok: false; status: 401 | 403; who?: string }
    | { ok: false; status: 429; retryAfterS: number };

  /** A presented key, checked through the login throttle when the app has one (retryAfterS: the address is banned). */
  async function keyHolder(req: Request, secret: string | undefined): Promise<Principal | { retryAfterS: number } | undefined> {
    if (secret === undefined || !deps.throttle) return deps.readers.authenticate(secret);
    const checked = await deps.throttle.checkKey(req.ip ?? req.socket.remoteAddress, secret, (k) => deps.readers.authenticate(k));
    return "retryAfterS" in checked ? checked : checked.holder;
  }

  async function access(req: Request, site: string): Promise<Access> {
    const p = await keyHolder(req, presentedSecret(req.headers));
    if (p && "retryAfterS" in p) return { ok: false, status: 429, retryAfterS: p.retryAfterS };
    if (!p) return { ok: false, status: 401 };
    if (!mayRead(p, site)) return { ok: false, status: 403, who: principalName(p) };
    return { ok: true, who: principalName(p) };
  }

  /** 429 with Retry-After: too many failed logins from the address (or with the key id). */
  function tooMany(req: Request, res: Response, site: string, retryAfterS: number, json: boolean): void {
    log.warn({ site, ip: req.ip, path: req.path, retryAfterS }, "wall refused: too many failed logins");
    res.set("Retry-After", String(retryAfterS));
    const reason = `too many failed logins from ${req.ip}: try again in ${retryAfterS} s`;
    if (json) return void res.status(429).json({ error: "too_many_requests", reason });
    messagePage(res, 429, "Too many wrong keys", [escapeHtml(reason)]);
  }

  function refuse(req: Request, res: Response, site: string, a: Access & { ok: false }, badKey = false): void {
    if (a.status === 429) return tooMany(req, res, site, a.retryAfterS, false);
    log.info({ site, status: a.status, who: a.who ?? "nobody", ip: req.ip, path: req.path }, "wall refused");
    const s = escapeHtml(site);
    const how = `Ask the footfall administrator for a viewer key for this site (<code>POST /api/v1/keys</code> with `
      + `<code>{"role": "viewer", "sites": ["${s}"], "name": "lobby wall"}</code>), then open `
      + `<code>/wall/${s}?key=&lt;the key&gt;</code> once in this browser. The browser keeps the key in a cookie; it leaves the address bar.`;
    if (a.status === 401) {
      messagePage(res, 401, "This wall needs a key", [
        badKey ? "The key in the address was not accepted: it is unknown, revoked or mistyped." : `The wall of site <strong>${s}</strong> is shown only to holders of a key for it.`,
        how,
      ]);
    } else {
      messagePage(res, 403, "Not this site's key", [
        `The key kept by this browser does not cover site <strong>${s}</strong>.`,
        how,
      ]);
    }
  }

  /** The site of the path, or a 404 page. */
  function siteOf(req: Request, res: Response): string | undefined {
    const r = SiteId.safeParse(req.params.site);
    if (!r.success) { messagePage(res, 404, "No such wall", ["A site id is 1-64 characters of A-Z a-z 0-9 _ -."]); return undefined; }
    return r.data;
  }

  router.get(`${WALL_PATH}/:site`, async (req, res) => {
    const site = siteOf(req, res);
    if (!site) return;
    const key = req.query.key;
    if (key !== undefined) {
      const p = typeof key === "string" ? await keyHolder(req, key) : undefined;
      if (p && "retryAfterS" in p) return tooMany(req, res, site, p.retryAfterS, false);
      if (!p) return refuse(req, res, site, { ok: false, status: 401 }, true);
      // a valid key always leaves the address bar; whether it covers this site is answered after the redirect
      res.cookie(KEY_COOKIE, key as string, {
        httpOnly: true, sameSite: "strict", path: "/", secure: req.secure, maxAge: COOKIE_MAX_AGE_S * 1000,
      });
      res.set({ "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" });
      log.info({ site, who: principalName(p), ip: req.ip }, "wall key traded for a cookie");
      return res.redirect(303, `${WALL_PATH}/${site}`);
    }
    const a = await access(req, site);
    if (!a.ok) {
      // a Strict cookie is not sent on a navigation that started on another site (a link in a chat
      // or a mail, then our redirect): reload once from here, where it is sent
      if (a.status === 401 && req.get("sec-fetch-site") === "cross-site" && req.get("sec-fetch-mode") === "navigate") {
        return messagePage(res, 200, "Opening the wall", ["Opening the wall…"], `\n  <meta http-equiv="refresh" content="0">`);
      }
      return refuse(req, res, site, a);
    }
    const topology = await deps.topology.get(site).catch((err: unknown) => { log.warn({ err, site }, "topology unavailable"); return null; });
    if (topology === null) return messagePage(res, 503, "Wall unavailable", ["The topology store does not answer; try again in a moment."]);
    if (!topology) return messagePage(res, 404, "No such wall", [`Site <strong>${escapeHtml(site)}</strong> has no topology.`]);
    const js = versionOf("wall.js"), css = versionOf("wall.css");
    if (!js || !css) {
      return messagePage(res, 503, "Wall not built", ["The wall's bundle is missing: run <code>npm run setup</code> (it runs <code>dashboards/wall/build.ts</code>)."]);
    }
    secureHeaders(res);
    res.status(200).type("html").send(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width,initial-scale=1">
  <title>${escapeHtml(site)} · footfall wall</title>
  <link rel="icon" href="${WALL_ASSETS_PATH}/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="${WALL_ASSETS_PATH}/wall.css?v=${css}">
  <script src="${WALL_ASSETS_PATH}/wall.js?v=${js}" defer></script>
</head>
<body class="wall" data-site="${escapeHtml(site)}">
  <noscript>The wall needs JavaScript.</noscript>
</body>
</html>
`);
  });

  router.get(`${WALL_PATH}/:site/plan.json`, async (req, res) => {
    const r = SiteId.safeParse(req.params.site);
    if (!r.success) return void res.status(404).json({ error: "not_found", reason: "no such site" });
    const site = r.data;
    const a = await access(req, site);
    if (!a.ok) {
      if (a.status === 429) return tooMany(req, res, site, a.retryAfterS, true);
      log.info({ site, status: a.status, who: a.who ?? "nobody", ip: req.ip }, "wall plan refused");
      const reason = a.status === 401 ? "a viewer key for the site is needed" : `the key does not cover site "${site}"`;
      return void res.status(a.status).json({ error: a.status === 401 ? "unauthorized" : "forbidden", reason });
    }
    const topology = await deps.topology.get(site).catch(() => null);
    if (topology === null) return void res.status(503).json({ error: "unavailable", reason: "the topology store does not answer" });
    if (!topology) return void res.status(404).json({ error: "not_found", reason: `site "${site}" has no topology` });
    res.set({ "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" }).json(wallPlanOf(topology));
  });

  // the broker keeps each camera's newest still under "{site}.{camera}" (with the bucket's TTL)
  let stillsKv: Promise<KV> | undefined;
  const stillsCache = new Map<string, { at: number; cameras: Promise<string[]> }>();
  async function camerasWithStills(site: string): Promise<string[]> {
    const held = stillsCache.get(site);
    if (held && Date.now() - held.at < STILLS_CACHE_MS) return held.cameras;
    const cameras = (async () => {
      if (!deps.nc) return [];
      stillsKv ??= new Kvm(deps.nc).open(KV_STILLS);
      const kv = await stillsKv.catch((e: unknown) => { stillsKv = undefined; throw e; });
      const out: string[] = [];
      for await (const k of await kv.keys(`${site}.*`)) out.push(k.slice(site.length + 1));
      return out.sort();
    })();
    stillsCache.set(site, { at: Date.now(), cameras });
    cameras.catch(() => stillsCache.delete(site));
    return cameras;
  }

  router.get(`${WALL_PATH}/:site/stills.json`, async (req, res) => {
    const r = SiteId.safeParse(req.params.site);
    if (!r.success) return void res.status(404).json({ error: "not_found", reason: "no such site" });
    const site = r.data;
    const a = await access(req, site);
    if (!a.ok) {
      if (a.status === 429) return tooMany(req, res, site, a.retryAfterS, true);
      return void res.status(a.status).json({ error: a.status === 401 ? "unauthorized" : "forbidden", reason: "as for the wall's page" });
    }
    const cameras = await camerasWithStills(site).catch((err: unknown) => { log.warn({ err, site }, "stills unavailable"); return null; });
    if (cameras === null) return void res.status(503).json({ error: "unavailable", reason: "NATS KV does not answer" });
    const body: WallStills = { site, cameras };
    res.set({ "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" }).json(body);
  });

  return router;
}
