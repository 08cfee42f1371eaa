import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonOf, startApiHarness, type ApiHarness } from "./api-harness.ts";
import { DAY, generatePersons, H, iso, mallTopology, personPoint, trackWriter } from "./track-fixture.ts";

/** The query history (KV ff_queries in a real nats-server) and the query metrics. */

const D0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY + 9 * H;
const persons = generatePersons(30, D0, 9);
const range = `from=${iso(D0)}&to=${iso(D0 + 2 * H)}`;
/** stored results above this are truncated (small, to see it happen) */
const MAX_RESULT = 20_000;

describe("query history (real nats-server and influxd)", () => {
  let h: ApiHarness;
  const get = async (path: string) => {
    const r = await h.fetch(path);
    return { ...(await jsonOf(r)), queryId: r.headers.get("x-query-id") };
  };
  const issued: string[] = [];
  const ask = async (path: string) => {
    const r = await h.fetch(`/api/v1${path}`);
    const text = await r.text();
    const id = r.headers.get("x-query-id")!;
    issued.push(id);
    return { status: r.status, text, body: JSON.parse(text), id };
  };

  beforeAll(async () => {
    h = await startApiHarness({ influx: true, track: { maxResultBytes: MAX_RESULT } });
    expect((await h.admin("PUT", "/api/v1/sites/mall/topology", mallTopology)).status).toBe(200);
    await trackWriter(h).writePoints(persons.map((p) => personPoint("mall", p)));
  });
  afterAll(async () => { await h?.stop(); });

  it("stores each query with parameters, status, summary, timing and the answer as sent", async () => {
    const r = await ask(`/stats/distance?site=mall&${range}&upper=blue`);
    expect(r.status).toBe(200);
    expect(r.body.query_id).toBe(r.id);
    const rec = await get(`/api/v1/queries/${r.id}`);
    expect(rec.status).toBe(200);
    expect(rec.body).toMatchObject({
      id: r.id, kind: "distance", status: 200, truncated: false, result_bytes: Buffer.byteLength(r.text),
      params: { site: "mall", from: iso(D0), to: iso(D0 + 2 * H), upper: "blue" },
      filter: { site: "mall", from: iso(D0), to: iso(D0 + 2 * H), attributes: { upper: "blue" }, min_confidence: 0 },
      summary: { count: r.body.count, mean_m: r.body.mean_m },
    });
    expect(rec.body.result).toEqual(r.body);
    expect(typeof rec.body.ms).toBe("number");
    expect(Math.abs(Date.parse(rec.body.created) - Date.now())).toBeLessThan(60_000);
  });

  it("a result larger than the limit is stored truncated, and flagged", async () => {
    const r = await ask(`/paths?site=mall&${range}&limit=1000`);
    expect(r.status).toBe(200);
    expect(r.body.count).toBe(persons.filter((p) => p.start <= D0 + 2 * H && p.end >= D0).length);
    expect(Buffer.byteLength(r.text)).toBeGreaterThan(MAX_RESULT);
    const rec = await get(`/api/v1/queries/${r.id}`);
    expect(rec.body).toMatchObject({ kind: "paths", status: 200, truncated: true, result_bytes: Buffer.byteLength(r.text), summary: { count: r.body.count } });
    const kept = rec.body.result.items.length as number;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(r.body.count);
    expect(rec.body.kept).toBe(`items: ${kept} of ${r.body.count}`);
    expect(rec.body.result.items).toEqual(r.body.items.slice(0, kept));
    expect(Buffer.byteLength(JSON.stringify(rec.body.result))).toBeLessThanOrEqual(MAX_RESULT);
  });

  it("refused queries are stored too, with their error", async () => {
    const bad = await ask("/heatmap?site=mall&cell=0");
    expect(bad.status).toBe(400);
    const old = await ask(`/paths?site=mall&from=${iso(Date.now() - 45 * DAY)}&to=${iso(Date.now() - 44 * DAY)}`);
    expect(old.status).toBe(410);
    const a = await get(`/api/v1/queries/${bad.id}`);
    expect(a.body).toMatchObject({ kind: "heatmap", status: 400, error: { error: "invalid_request" }, result: null, params: { site: "mall", cell: "0" } });
    expect(a.body.error.reason).toMatch(/cell must be at least 0.1/);
    const b = await get(`/api/v1/queries/${old.id}`);
    expect(b.body).toMatchObject({ kind: "paths", status: 410, error: { error: "beyond_retention" } });
  });

  it("lists newest first without results, page by page", async () => {
    for (let i = 0; i < 3; i++) await ask(`/stats/dwell?site=mall&space=hall&${range}`);
    const first = await get("/api/v1/queries?limit=2");
    expect(first.status).toBe(200);
    expect(first.body.queries.map((q: { id: string }) => q.id)).toEqual([...issued].reverse().slice(0, 2));
    expect(first.body.queries[0].result).toBeUndefined();
    expect(first.body.queries[0]).toMatchObject({ kind: "dwell", status: 200 });
    const seen: string[] = [];
    let before: string | null = null;
    do {
      const page = await get(`/api/v1/queries?limit=2${before ? `&before=${before}` : ""}`);
      seen.push(...page.body.queries.map((q: { id: string }) => q.id));
      before = page.body.next_before;
    } while (before);
    expect(seen).toEqual([...issued].reverse());
  });

  it("unknown and malformed ids, bad listing parameters", async () => {
    expect((await get("/api/v1/queries/nope")).status).toBe(400);
    const unknown = await get("/api/v1/queries/0000000000000abcdef");
    expect(unknown.status).toBe(404);
    expect(unknown.body.reason).toMatch(/no query/);
    expect((await get("/api/v1/queries?limit=0")).status).toBe(400);
    expect((await get("/api/v1/queries?before=yesterday")).status).toBe(400);
    expect((await get("/api/v1/queries?x=1")).status).toBe(400);
  });

  it("metrics count queries by kind and status and time them", async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/footfall_api_queries_total\{[^}]*kind="paths"[^}]*status="200"[^}]*\} 1/);
    expect(text).toMatch(/footfall_api_queries_total\{[^}]*kind="paths"[^}]*status="410"[^}]*\} 1/);
    expect(text).toMatch(/footfall_api_queries_total\{[^}]*kind="dwell"[^}]*status="200"[^}]*\} 3/);
    expect(text).toMatch(/footfall_api_query_duration_seconds_count\{[^}]*kind="distance"[^}]*\} 1/);
  });
});
