/**
 * The API against its contract, by requests generated from api/openapi.yaml (spec-fuzz.ts) and
 * sent to the API over a socket (real nats-server and influxd): every operation with valid
 * parameters and bodies and with mutations of them (wrong types, missing required values, overlong
 * strings, control and bidi characters, markup, unknown fields, broken JSON), with the admin token,
 * the site's viewer key, another site's key, the wall's cookie, a bad key and none; every path
 * with methods it does not answer. Every answer's status must be documented for its operation,
 * with the documented headers, and its JSON body must validate against the documented schema;
 * an unknown method must be 405 with the path's methods in Allow.
 *
 * Bounded (at most MAX_REQUESTS) and deterministic for a seed: FOOTFALL_FUZZ_SEED=<n> repeats a run.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundle, createConfig } from "@redocly/openapi-core";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/retry.ts";
import { startApiHarness, type ApiHarness } from "./api-harness.ts";
import {
  generate, HTTP_METHODS, NASTY, prng, Rng, setAt, stringPaths, wrongType,
  type JsonSchema, type Spec, type SpecOperation, type SpecParameter,
} from "./spec-fuzz.ts";

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../api/openapi.yaml");
const SEED = Number(process.env.FOOTFALL_FUZZ_SEED ?? 20261204);
const MAX_REQUESTS = 2000;
const PER_OPERATION = 40;
const CONCURRENCY = 4;

type Cred = "admin" | "viewer" | "other" | "cookie" | "bad" | "none" | "device";

interface FuzzRequest {
  /** "GET /sites/{site}/count" */
  label: string;
  what: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** the documented operation; undefined for a method the path does not answer */
  op?: SpecOperation;
  /** for a method the path does not answer: the methods it does */
  allowed?: string[];
}

/** A path parameter sent as it is, not percent-encoded (e.g. malformed percent-encoding). */
class RawPath { constructor(readonly text: string) {} }

const DPU_SECRET = "dpu-fz-secret-1";
const CAM_SECRET = "cam-fz-secret-1";
const polygon = [[0, 0], [10, 0], [10, 8], [0, 8]];
const FZ = {
  spaces: [{ id: "floor", name: "Floor", capacity: 40, polygon }, { id: "hall", name: "Hall" }],
  doorways: [{ id: "front", entering_to: "floor", exiting_to: "outside" }, { id: "inner", entering_to: "hall", exiting_to: "floor" }],
  devices: [
    { id: "dpu-fz", kind: "dpu", doorway: "front", secret: DPU_SECRET },
    { id: "cam-fz", kind: "camera", sees: ["floor"], secret: CAM_SECRET, lines: [{ id: "l1", name: "Line", a: [1, 1], b: [5, 1] }] },
  ],
};
const OTHER = {
  spaces: [{ id: "shop", name: "Shop" }],
  doorways: [{ id: "door", entering_to: "shop", exiting_to: "outside" }],
  devices: [{ id: "cam-other", kind: "camera", sees: ["shop"] }],
};

describe("the API answers as its OpenAPI description says (generated requests, real services)", () => {
  let h: ApiHarness;
  let spec: Spec;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addFormat("binary", true);
  const validators = new Map<string, ValidateFunction>();
  const fixtures = { viewer: "", other: "", spareKey: "", query: "", job: "" };

  beforeAll(async () => {
    const config = await createConfig({ extends: ["recommended"] });
    const bundled = await bundle({ ref: SPEC, config, dereference: true });
    spec = bundled.bundle.parsed as Spec;
    h = await startApiHarness({ influx: true, video: {} });
    expect((await h.admin("PUT", "/api/v1/sites/fz/topology", FZ)).status).toBe(200);
    expect((await h.admin("PUT", "/api/v1/sites/other/topology", OTHER)).status).toBe(200);
    fixtures.viewer = (await h.keys.create({ role: "viewer", sites: ["fz"], name: "fuzz viewer" })).key;
    fixtures.other = (await h.keys.create({ role: "viewer", sites: ["other"], name: "fuzz other" })).key;
    fixtures.spareKey = (await h.keys.create({ role: "viewer", sites: ["fz"], name: "fuzz spare" })).id;
    await eventually("keys and devices mirrored", () => h.keys.verify(fixtures.viewer) !== undefined && h.registry.get("cam-fz") !== undefined);
    // a stored query and, if the range lacks the attribute, a job: ids that exist
    const asked = await h.fetch("/api/v1/paths?site=fz&shoes=white");
    fixtures.query = asked.headers.get("x-query-id")!;
    const answer = (await asked.json()) as { job?: string };
    fixtures.job = answer.job ?? "j000000000" + "00000000";
  });
  afterAll(async () => { await h?.stop(); });

  /** The documented answer for a status: exact, range ("4XX") or default. */
  function documented(op: SpecOperation, status: number) {
    return op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
  }

  function validator(key: string, schema: JsonSchema): ValidateFunction {
    let v = validators.get(key);
    if (!v) { v = ajv.compile(schema); validators.set(key, v); }
    return v;
  }

  /** What is wrong with an answer, or undefined. */
  function check(req: FuzzRequest, status: number, headers: Headers, text: string): string | undefined {
    const ct = headers.get("content-type") ?? "";
    const json = (): unknown => { try { return JSON.parse(text); } catch { return Symbol.for("not json"); } };
    if (!req.op) {
      if (status !== 405) return `a method the path does not answer got ${status}, not 405`;
      const allow = (headers.get("allow") ?? "").split(",").map((m) => m.trim()).filter(Boolean).sort();
      const want = [...req.allowed!, ...(req.allowed!.includes("GET") ? ["HEAD"] : [])].sort();
      if (allow.join() !== want.join()) return `Allow "${allow.join(", ")}" is not the path's methods ${want.join(", ")}`;
      const errorSchema = (spec as any).components?.schemas?.Error ?? { type: "object", required: ["error", "reason"] };
      return validator("Error", errorSchema)(json()) ? undefined : "405 body is not an Error";
    }
    const doc = documented(req.op, status);
    if (!doc) return `status ${status} is not documented (documented: ${Object.keys(req.op.responses).join(", ")}): ${text.slice(0, 200)}`;
    for (const [name, hd] of Object.entries(doc.headers ?? {})) {
      if (hd.required && !headers.has(name)) return `${status} lacks the required header ${name}`;
    }
    if (!doc.content) return undefined;
    const media = Object.keys(doc.content);
    const base = ct.split(";")[0]!.trim();
    if (!media.includes(base)) return `${status} answered ${ct || "no content type"}, documented ${media.join(", ")}`;
    const schema = doc.content[base]!.schema;
    if (!schema || !base.endsWith("json")) return undefined;
    const v = validator(`${req.op.operationId} ${status} ${base}`, schema);
    if (v(json())) return undefined;
    return `${status} body does not match its schema: ${ajv.errorsText(v.errors, { separator: "; " })}: ${text.slice(0, 300)}`;
  }

  function buildRequests(r: Rng): FuzzRequest[] {
    const all: FuzzRequest[] = [];
    for (const [template, item] of Object.entries(spec.paths)) {
      const root = Array.isArray(item.servers) && item.servers[0]?.url === "{origin}";
      const prefix = root ? "" : "/api/v1";
      const pathParams: SpecParameter[] = item.parameters ?? [];
      const answers = HTTP_METHODS.filter((m) => item[m]);
      for (const method of answers) {
        const op = item[method] as SpecOperation;
        const params = [...pathParams, ...(op.parameters ?? [])];
        const basic = op.security?.some((s) => "dpuBasic" in s || "cameraBasic" in s);
        const label = `${method.toUpperCase()} ${template}`;
        const jsonBody = op.requestBody?.content["application/json"]?.schema;
        const binaryBody = op.requestBody?.content["application/octet-stream"] !== undefined;

        /** valid values for the parameters, or the mutation's */
        const values = (mut?: { name: string; value: unknown } | { drop: string }): Map<SpecParameter, unknown> => {
          const out = new Map<SpecParameter, unknown>();
          for (const p of params) {
            if (mut && "drop" in mut && mut.drop === p.name) continue;
            if (mut && "name" in mut && mut.name === p.name) { out.set(p, mut.value); continue; }
            if (p.in === "header" && p.name.toLowerCase() === "content-length") continue;
            if (p.in !== "path" && !p.required && !r.chance(0.35)) continue;
            out.set(p, fixtureOf(template, p) ?? generate(p.schema, r));
          }
          return out;
        };
        const credentials = (cred: Cred): Record<string, string> => {
          switch (cred) {
            case "admin": return { authorization: `Bearer ${h.cfg.adminToken}` };
            case "viewer": return { authorization: `Bearer ${fixtures.viewer}` };
            case "other": return { authorization: `Bearer ${fixtures.other}` };
            case "cookie": return { cookie: `ff_key=${encodeURIComponent(fixtures.viewer)}` };
            case "bad": return { authorization: "Bearer ffk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAA" };
            case "none": return {};
            case "device": {
              const [user, pass] = template.startsWith("/dpus") ? ["dpu-fz", DPU_SECRET] : ["cam-fz", CAM_SECRET];
              return { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` };
            }
          }
        };
        const make = (what: string, cred: Cred, vals: Map<SpecParameter, unknown>, body?: { json?: unknown; raw?: string | Uint8Array<ArrayBuffer> }): FuzzRequest | undefined => {
          let p = template;
          const query = new URLSearchParams();
          const headers: Record<string, string> = { ...credentials(cred) };
          for (const [param, v] of vals) {
            if (v instanceof RawPath) { p = p.replace(`{${param.name}}`, v.text); continue; }
            const text = typeof v === "string" ? v : v !== null && typeof v === "object" ? JSON.stringify(v) : String(v);
            if (param.in === "path") {
              if (text === "") return undefined;
              p = p.replace(`{${param.name}}`, encodeURIComponent(text));
            } else if (param.in === "query") {
              if (param.style === "form" && param.explode && v && typeof v === "object" && !Array.isArray(v)) {
                for (const [k, x] of Object.entries(v)) query.append(k, String(x));
              } else query.append(param.name, text);
            } else if (param.in === "header") {
              if (/^[\x20-\x7e]*$/.test(text)) headers[param.name] = text;
            }
          }
          // a valid entity body names the entity of the path, if it names one
          const pathId = [...vals].find(([param]) => param.in === "path" && param.name === "id")?.[1];
          if (what === "valid" && body?.json && typeof body.json === "object" && "id" in body.json && pathId !== undefined) {
            body = { json: { ...body.json, id: pathId } };
          }
          let payload: string | Uint8Array<ArrayBuffer> | undefined;
          if (body?.raw !== undefined) payload = body.raw;
          else if (body && "json" in body) payload = JSON.stringify(body.json);
          if (payload !== undefined) headers["content-type"] = binaryBody ? "application/octet-stream" : "application/json";
          const qs = query.toString();
          return { label, what: `${what} as ${cred}`, method: method.toUpperCase(), url: `${prefix}${p}${qs ? `?${qs}` : ""}`, headers, ...(payload === undefined ? {} : { body: payload }), op };
        };
        const validBody = () => (jsonBody ? { json: existing(generate(jsonBody, r), r) } : binaryBody ? { raw: new Uint8Array(r.int(1, 64)).fill(7) } : undefined);
        const mine: FuzzRequest[] = [];
        const add = (x: FuzzRequest | undefined) => { if (x) mine.push(x); };

        const creds: Cred[] = ["admin", "admin", "viewer", "other", "cookie", "bad", "none", ...(basic ? ["device", "device", "device"] as Cred[] : [])];
        for (const c of creds) add(make("valid", c, values(), validBody()));
        const mainCred = (): Cred => (basic ? r.pick(["device", "device", "admin"]) : r.pick(["admin", "admin", "admin", "viewer"]));
        for (const p of params) {
          if (p.in === "header" && p.name.toLowerCase() === "content-length") continue;
          const mutations: Array<[string, unknown]> = [
            ["wrong type", wrongType(p.schema, r)], ["overlong", NASTY.overlong()], ["control characters", NASTY.control()],
            ["bidi override", NASTY.bidi()], ["markup", NASTY.markup()], ["bidi isolate", NASTY.isolate()],
          ];
          if (p.in === "path") mutations.push(["malformed percent-encoding", new RawPath("%E0%A4%A")], ["encoded slash", new RawPath("a%2Fb")]);
          for (const [what, value] of r.shuffle(mutations).slice(0, 3)) add(make(`${p.in} ${p.name}: ${what}`, mainCred(), values({ name: p.name, value }), validBody()));
          if (p.in === "query" && p.required) add(make(`query ${p.name}: missing`, mainCred(), values({ drop: p.name }), validBody()));
        }
        const unknown = values();
        unknown.set({ name: "zz_unknown", in: "query" }, "1");
        add(make("unknown query parameter", mainCred(), unknown, validBody()));
        if (jsonBody) {
          const bodyMutations: Array<[string, () => { json?: unknown; raw?: string }]> = [
            ["body: not JSON", () => ({ raw: "{ not json" })],
            ["body: empty", () => ({ raw: "" })],
            ["body: wrong top-level type", () => ({ json: r.pick([[], "x", 42, null]) })],
            ["body: unknown field", () => ({ json: { ...(generate(jsonBody, r) as object), zz_unknown: 1 } })],
            ["body: missing required", () => {
              const v = generate(jsonBody, r) as Record<string, unknown>;
              const req: string[] = jsonBody.required ?? [];
              if (req.length && v && typeof v === "object") delete v[r.pick(req)];
              return { json: v };
            }],
            ["body: wrong type", () => {
              const v = generate(jsonBody, r) as Record<string, unknown>;
              const keys = Object.keys(jsonBody.properties ?? {});
              if (keys.length && v && typeof v === "object") { const k = r.pick(keys); v[k] = wrongType(jsonBody.properties[k], r); }
              return { json: v };
            }],
            ...(["overlong", "control", "bidi", "isolate", "markup"] as const).map((kind): [string, () => { json: unknown }] => [`body: ${kind} string`, () => {
              const v = generate(jsonBody, r);
              const at = stringPaths(v);
              return { json: at.length ? setAt(v, r.pick(at), NASTY[kind]()) : v };
            }]),
          ];
          for (const [what, body] of bodyMutations) add(make(what, mainCred(), values(), body()));
        }
        while (mine.length < PER_OPERATION && mine.length < 24) add(make("valid", mainCred(), values(), validBody()));
        all.push(...r.shuffle(mine).slice(0, PER_OPERATION));
      }
      // methods the path does not answer
      const allowed = answers.map((m) => m.toUpperCase());
      for (const m of r.shuffle(HTTP_METHODS.filter((x) => !item[x])).slice(0, 2)) {
        const cred = r.pick<Cred>(["admin", "none", "viewer"]);
        let url = `${prefix}${template}`;
        for (const p of pathParams.concat(...answers.map((a) => item[a].parameters ?? [])).filter((x: SpecParameter) => x.in === "path")) {
          url = url.replace(`{${p.name}}`, encodeURIComponent(String(fixtureOf(template, p) ?? generate(p.schema, r))));
        }
        all.push({
          label: `${m.toUpperCase()} ${template}`, what: `method not answered as ${cred}`, method: m.toUpperCase(), url,
          headers: cred === "admin" ? { authorization: `Bearer ${h.cfg.adminToken}` } : cred === "viewer" ? { authorization: `Bearer ${fixtures.viewer}` } : {},
          allowed,
        });
      }
    }
    return all;
  }

  /** A generated body, its fields that name things mostly set to things that exist. */
  function existing(v: unknown, r: Rng): unknown {
    const names: Record<string, () => unknown> = {
      doorway: () => "front", entering_to: () => r.pick(["floor", "hall"]), exiting_to: () => "outside", camera: () => "cam-fz",
      sees: () => ["floor"], sites: () => ["fz"], delta: () => r.pick([1, -1]), ts: () => Date.now() - r.int(0, 60_000),
    };
    if (Array.isArray(v)) return v.map((x) => existing(x, r));
    if (v === null || typeof v !== "object") return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, names[k] && r.chance(0.9) ? names[k]!() : existing(x, r)]));
  }

  /** Values that name things that exist (the rest are generated from the schemas). */
  function fixtureOf(template: string, p: SpecParameter): string | undefined {
    const byName: Record<string, string> = { site: "fz", space: "floor", camera: "cam-fz", device: "dpu-fz", zone: "floor", seq: "0" };
    if (p.name === "id") {
      if (template.startsWith("/sites/{site}/spaces")) return "hall";
      if (template.startsWith("/sites/{site}/doorways")) return "inner";
      if (template.startsWith("/sites/{site}/devices")) return "dev-fuzz";
      if (template.startsWith("/queries")) return fixtures.query;
      if (template.startsWith("/jobs")) return fixtures.job;
      if (template.startsWith("/keys")) return fixtures.spareKey;
    }
    return p.in === "path" || p.in === "query" ? byName[p.name] : undefined;
  }

  it("the checker refuses what the description does not say (so the run below can fail)", () => {
    const op = spec.paths["/sites/{site}/count"]!.get as SpecOperation;
    const req: FuzzRequest = { label: "GET /sites/{site}/count", what: "self-check", method: "GET", url: "", headers: {}, op };
    const json = new Headers({ "content-type": "application/json" });
    expect(check(req, 418, json, "{}")).toMatch(/not documented/);
    expect(check(req, 200, json, JSON.stringify({ site: "fz", count: -1, at: "x" }))).toMatch(/does not match/);
    expect(check(req, 401, json, JSON.stringify({ error: "unauthorized", reason: "r" }))).toMatch(/WWW-Authenticate/);
    expect(check(req, 200, new Headers({ "content-type": "text/html" }), "<p>")).toMatch(/text\/html/);
    expect(check({ ...req, op: undefined, allowed: ["GET"] }, 404, json, "{}")).toMatch(/not 405/);
    expect(check(req, 200, json, JSON.stringify({ site: "fz", count: 3, at: new Date().toISOString() }))).toBeUndefined();
  });

  it(`every answer to at most ${MAX_REQUESTS} generated requests is documented, with a body matching its schema (seed ${SEED})`, async () => {
    const r = new Rng(prng(SEED));
    const requests = buildRequests(r).slice(0, MAX_REQUESTS);
    expect(requests.length).toBeGreaterThan(500);
    // reads first; then changes; whole topologies, then deletions last (they take fixtures away)
    const phase = (q: FuzzRequest) => (q.method === "GET" ? 0 : q.method === "DELETE" ? 3 : q.label === "PUT /sites/{site}/topology" ? 2 : 1);
    const problems: string[] = [];
    const statuses = new Map<string, Map<number, number>>();
    for (const ph of [0, 1, 2, 3]) {
      const queue = requests.filter((q) => phase(q) === ph);
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        for (let q = queue.shift(); q; q = queue.shift()) {
          let res: Response;
          try {
            res = await fetch(`${h.url}${q.url}`, { method: q.method, headers: q.headers, ...(q.body === undefined ? {} : { body: q.body }) });
          } catch (e) {
            problems.push(`${q.label} (${q.what}): request failed: ${(e as Error).message}`);
            continue;
          }
          const text = await res.text();
          const m = statuses.get(q.label) ?? new Map<number, number>();
          m.set(res.status, (m.get(res.status) ?? 0) + 1);
          statuses.set(q.label, m);
          const wrong = check(q, res.status, res.headers, text);
          if (wrong) problems.push(`${q.label} (${q.what}) ${q.method} ${q.url.slice(0, 160)}: ${wrong}`);
        }
      }));
    }
    const table = [...statuses].map(([op, m]) => `${op.padEnd(50)} ${[...m].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(" ")}`);
    console.log(`openapi fuzz, seed ${SEED}: ${requests.length} requests\n${table.join("\n")}`);
    expect(problems.slice(0, 40), `${problems.length} problems (seed ${SEED})`).toEqual([]);

    // the run reached the operations themselves, not only their refusals
    const operations = Object.values(spec.paths).flatMap((item) => HTTP_METHODS.filter((m) => item[m]).length);
    const reached = [...statuses].filter(([op, m]) => !op.startsWith("PATCH") && [...m.keys()].some((s) => s >= 200 && s < 300));
    expect(statuses.size).toBeGreaterThanOrEqual(operations.reduce((a, b) => a + b, 0));
    expect(reached.length).toBeGreaterThanOrEqual(30);
  });
});
