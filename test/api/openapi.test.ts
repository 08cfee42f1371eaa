/**
 * api/openapi.yaml is the API's contract:
 *   - it parses, bundles and lints with Redocly's `recommended` rules without an error (the
 *     warnings left are listed here, each on purpose);
 *   - it documents exactly the routes the app serves (read from express's own route table), and
 *     says `security: []` or a device's Basic exactly where api/http/access.ts asks for no key.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundle, createConfig, lint, type NormalizedProblem } from "@redocly/openapi-core";
import type express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRoutes } from "../../api/http/route-table.ts";
import { OPEN_ROUTES } from "../../api/http/access.ts";
import { startApiHarness, type ApiHarness } from "./api-harness.ts";

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../api/openapi.yaml");
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

interface Operation { operationId: string; security?: Array<Record<string, string[]>> }
type Spec = { paths: Record<string, Record<string, unknown>>; security: Array<Record<string, string[]>> };

const where = (p: NormalizedProblem) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(" ")}`;

/** "GET /api/v1/sites/{site}/count", "GET /healthz" for every operation of the spec. */
function specOperations(spec: Spec): Map<string, Operation> {
  const out = new Map<string, Operation>();
  for (const [p, item] of Object.entries(spec.paths)) {
    const root = Array.isArray(item.servers) && (item.servers as Array<{ url: string }>)[0]?.url === "{origin}";
    for (const m of METHODS) {
      const op = item[m] as Operation | undefined;
      if (op) out.set(`${m.toUpperCase()} ${root ? "" : "/api/v1"}${p}`, op);
    }
  }
  return out;
}

describe("the OpenAPI description", () => {
  let problems: NormalizedProblem[];
  let spec: Spec;

  beforeAll(async () => {
    const config = await createConfig({ extends: ["recommended"] });
    problems = await lint({ ref: SPEC, config });
    const bundled = await bundle({ ref: SPEC, config, dereference: true });
    expect(bundled.problems.map(where)).toEqual([]);
    spec = bundled.bundle.parsed as Spec;
  });

  it("lints with Redocly's recommended rules without an error", () => {
    expect(problems.filter((p) => p.severity === "error").map(where)).toEqual([]);
  });

  it("leaves only the warnings chosen on purpose", () => {
    // footfall is not published under a licence; the three public GETs have no 4xx to answer
    expect(problems.filter((p) => p.severity !== "error").map((p) => `${p.ruleId} ${p.location[0]?.pointer}`).sort()).toEqual([
      "info-license #/info",
      "operation-4xx-response #/paths/~1healthz/get/responses",
      "operation-4xx-response #/paths/~1metrics/get/responses",
      "operation-4xx-response #/paths/~1openapi.yaml/get/responses",
    ]);
  });

  it("fails the lint on the kind of mistake it had (a flow mapping cut in two by a comma)", async () => {
    const config = await createConfig({ extends: ["recommended"] });
    const { lintFromString } = await import("@redocly/openapi-core");
    const broken = (await import("node:fs")).readFileSync(SPEC, "utf8")
      .replace('reason: { type: string, description: "What was wrong, for humans." }', "reason: { type: string, description: What was wrong, for humans. }");
    const found = await lintFromString({ source: broken, absoluteRef: SPEC, config });
    expect(found.filter((p) => p.severity === "error").map((p) => p.ruleId)).toEqual(["struct"]);
  });

  describe("against the app's own routes", () => {
    let h: ApiHarness;
    beforeAll(async () => { h = await startApiHarness({ video: {} }); });
    afterAll(async () => { await h?.stop(); });

    const served = (app: express.Express) => new Set(listRoutes(app)
      .filter((r) => r.pattern.startsWith("/api/v1/") || r.pattern === "/healthz" || r.pattern === "/metrics")
      .flatMap((r) => r.methods.filter((m) => m !== "HEAD").map((m) => `${m} ${r.pattern.replace(/:(\w+)/g, "{$1}")}`)));

    it("documents every route the API serves, and serves every documented operation", () => {
      expect([...specOperations(spec).keys()].sort()).toEqual([...served(h.app)].sort());
    });

    it("asks no key exactly where access.ts opens a route (the description, signed URLs, devices)", () => {
      const open = [...specOperations(spec)]
        .filter(([, op]) => op.security !== undefined && !op.security.some((s) => "bearer" in s))
        .map(([k]) => k).sort();
      const expected = [
        ...OPEN_ROUTES.map((r) => `${r.method} ${r.pattern.replace(/:(\w+)/g, "{$1}")}`),
        "GET /healthz", "GET /metrics",
      ].sort();
      expect(open).toEqual(expected);
      expect(spec.security).toEqual([{ bearer: [] }, { keyCookie: [] }]);
    });

    it("serves the file itself at /api/v1/openapi.yaml", async () => {
      const text = await (await fetch(`${h.url}/api/v1/openapi.yaml`)).text();
      expect(text).toBe((await import("node:fs")).readFileSync(SPEC, "utf8"));
    });
  });
});

