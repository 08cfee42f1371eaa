import type { IncomingHttpHeaders } from "node:http";

/** The wall's HttpOnly cookie, set by GET /wall/{site}?key=... so the key leaves the address bar. */
export const KEY_COOKIE = "ff_key";

/**
 * The secret a request presents: `Authorization: Bearer <secret>`, else the `ff_key` cookie.
 * Works on any Node request (express routes and websocket upgrades alike).
 */
export function presentedSecret(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  const cookie = headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === KEY_COOKIE) {
      try { return decodeURIComponent(part.slice(eq + 1).trim()) || undefined; } catch { return undefined; }
    }
  }
  return undefined;
}
