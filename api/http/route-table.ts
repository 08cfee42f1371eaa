import type { Application } from "express";

/**
 * The express app's own route table, read from its router (express 5 / router 2): which routes a
 * path matches, with the methods each answers and the parameters express will hand the handler.
 * Used to answer 405 with an Allow header for a known path, to classify a request by the route it
 * will reach (not by re-parsing its path), and by the tests that check the OpenAPI description
 * against the routes actually served.
 */

/** The parts of router 2's Layer and Route this module reads. */
interface Layer {
  match(path: string): false | { path: string; params: Record<string, string> };
  route?: { path: unknown; methods: Record<string, boolean | undefined> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
  slash?: boolean;
}

export interface MatchedRoute {
  /** the full route pattern, e.g. "/api/v1/sites/:site/count" */
  pattern: string;
  /** upper-case methods the route answers (HEAD where it answers GET) */
  methods: string[];
  /** decoded path parameters, as the handler will see them */
  params: Record<string, string>;
}

function stackOf(app: Application): Layer[] {
  return ((app as unknown as { router: { stack: Layer[] } }).router?.stack) ?? [];
}

function methodsOf(route: NonNullable<Layer["route"]>): string[] {
  const m = Object.keys(route.methods).filter((k) => k !== "_all" && route.methods[k]).map((k) => k.toUpperCase());
  if (m.includes("GET") && !m.includes("HEAD")) m.push("HEAD");
  return m;
}

function walk(stack: Layer[], path: string, prefix: string, params: Record<string, string>, out: MatchedRoute[]): void {
  for (const layer of stack) {
    let m: ReturnType<Layer["match"]>;
    try { m = layer.match(path); } catch { continue; } // undecodable parameter: express answers 400 itself
    if (!m) continue;
    const merged = { ...params, ...m.params };
    if (layer.route) {
      if (typeof layer.route.path === "string") out.push({ pattern: prefix + layer.route.path, methods: methodsOf(layer.route), params: merged });
    } else if (layer.handle?.stack) {
      const mount = layer.slash ? "" : typeof layer.rawPath === "string" ? layer.rawPath : "";
      const rest = path.slice(m.path.length);
      walk(layer.handle.stack, rest.startsWith("/") ? rest : `/${rest}`, prefix + mount, merged, out);
    }
  }
}

/** Every route whose path matches `path`, in the order express tries them. */
export function matchRoutes(app: Application, path: string): MatchedRoute[] {
  const out: MatchedRoute[] = [];
  walk(stackOf(app), path, "", {}, out);
  return out;
}

/** Every route of the app: pattern and methods (for the tests that hold the spec against it). */
export function listRoutes(app: Application): Array<{ pattern: string; methods: string[] }> {
  const out: Array<{ pattern: string; methods: string[] }> = [];
  const visit = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route && typeof layer.route.path === "string") out.push({ pattern: prefix + layer.route.path, methods: methodsOf(layer.route) });
      else if (layer.handle?.stack) visit(layer.handle.stack, prefix + (layer.slash ? "" : typeof layer.rawPath === "string" ? layer.rawPath : ""));
    }
  };
  visit(stackOf(app), "");
  return out;
}
