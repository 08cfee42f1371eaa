/**
 * Who may read what, over HTTP (real nats-server and influxd, the API app over a socket):
 *   - every /api/v1 read route: 401 (with WWW-Authenticate) without a key or with a bad one, 403
 *     with a key of another site, 200 with the site's viewer key, by header or by the ff_key cookie;
 *   - cameras, queries and jobs of another site answer 404, as unknown ones do;
 *   - the keys routes: admin token or admin key only; a key is shown once, never listed; a revoked
 *     key is refused within moments;
 *   - names with control or bidi characters are refused with a reason naming the field; markup is
 *     text, stored and echoed as sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/retry.ts";
import { jsonOf, startApiHarness, type ApiHarness } from "./api-harness.ts";

const RLO = "\u202E";
const SCRIPT = "<script>alert(1)</script>";

const topologyOf = (camera: string) => ({
  spaces: [{ id: "floor", name: "Floor", capacity: 50, polygon: [[0, 0], [10, 0], [10, 10], [0, 10]] }],
  doorways: [{ id: "front", entering_to: "floor", exiting_to: "outside" }],
  devices: [{ id: camera, kind: "camera", sees: ["floor"] }],
});

/** Every read route of site `s` (its space "floor"), as the wall and integrators call them. */
const readRoutes = (s: string) => [
  `/api/v1/sites/${s}/count`, `/api/v1/sites/${s}/spaces/floor/count`, `/api/v1/sites/${s}/spaces/floor/series`,
  `/api/v1/sites/${s}/spaces/floor/daily`, `/api/v1/sites/${s}/topology`, `/api/v1/sites/${s}/cameras`,
  `/api/v1/sites/${s}/lines`, `/api/v1/sites/${s}/zones/floor/occupancy`, `/api/v1/sites/${s}/zones/floor/camera-vs-dpu`,
  `/api/v1/paths?site=${s}`, `/api/v1/stats/distance?site=${s}`, `/api/v1/stats/dwell?site=${s}&space=floor`, `/api/v1/heatmap?site=${s}`,
];

describe("read access by API key (real nats-server and influxd)", () => {
  let h: ApiHarness;
  /** viewer keys of mall and of office; an admin key */
  let mall: { id: string; key: string };
  let office: { id: string; key: string };
  let admin: { id: string; key: string };
  const as = (key: string | undefined, path: string, init: RequestInit = {}) =>
    fetch(`${h.url}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string> | undefined) } });
  const createKey = async (by: string, body: unknown) =>
    jsonOf(await as(by, "/api/v1/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));

  beforeAll(async () => {
    h = await startApiHarness({ influx: true, video: {} });
    expect((await h.admin("PUT", "/api/v1/sites/mall/topology", topologyOf("cam-mall"))).status).toBe(200);
    expect((await h.admin("PUT", "/api/v1/sites/office/topology", topologyOf("cam-office"))).status).toBe(200);
    const token = h.cfg.adminToken;
    const made = await Promise.all([
      createKey(token, { role: "viewer", sites: ["mall"], name: "mall wall" }),
      createKey(token, { role: "viewer", sites: ["office"], name: "office wall" }),
      createKey(token, { role: "admin", sites: "*", name: "ops" }),
    ]);
    for (const m of made) expect(m.status).toBe(201);
    [mall, office, admin] = made.map((m) => m.body as { id: string; key: string }) as [typeof mall, typeof office, typeof admin];
    await eventually("the registry knows both cameras", () => h.registry.get("cam-mall") !== undefined && h.registry.get("cam-office") !== undefined);
  });
  afterAll(async () => { await h?.stop(); });

  it("every read route: 401 without a key or with a bad one, 403 with another site's key, 200 with the site's viewer key", async () => {
    for (const path of readRoutes("mall")) {
      const none = await as(undefined, path);
      expect(none.status, path).toBe(401);
      expect(none.headers.get("www-authenticate"), path).toBe('Bearer realm="footfall"');
      expect((await jsonOf(none)).body).toMatchObject({ error: "unauthorized" });

      const bad = await as("ffk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAA", path);
      expect(bad.status, path).toBe(401);
      expect(bad.headers.get("www-authenticate"), path).toMatch(/error="invalid_token"/);
      expect((await as(undefined, path, { headers: { authorization: "Basic bWFsbDptYWxs" } })).status, path).toBe(401);

      const other = await jsonOf(await as(office.key, path));
      expect(other.status, path).toBe(403);
      expect(other.body).toMatchObject({ error: "forbidden", reason: `key:${office.id} may not read site "mall"` });

      expect((await as(mall.key, path)).status, path).toBe(200);
      expect((await as(admin.key, path)).status, path).toBe(200);
      expect((await as(h.cfg.adminToken, path)).status, path).toBe(200);
    }
  });

  it("a site the key may not read is 403 whether it exists or not; a readable one without data is 404", async () => {
    expect((await as(mall.key, "/api/v1/sites/nowhere/count")).status).toBe(403);
    expect((await as(mall.key, "/api/v1/sites/office/count")).status).toBe(403);
    expect((await as(mall.key, "/api/v1/paths?site=nowhere")).status).toBe(403);
    // every site the query names must be readable
    expect((await as(mall.key, "/api/v1/paths?site=mall&site=office")).status).toBe(403);
    expect((await as(admin.key, "/api/v1/sites/nowhere/count")).status).toBe(404);
  });

  it("the wall's ff_key cookie reads, but never writes or administers", async () => {
    const cookie = (key: string) => ({ headers: { cookie: `theme=dark; ff_key=${encodeURIComponent(key)}` } });
    expect((await as(undefined, "/api/v1/sites/mall/count", cookie(mall.key))).status).toBe(200);
    expect((await as(undefined, "/api/v1/sites/office/count", cookie(mall.key))).status).toBe(403);
    const body = { method: "PUT", body: JSON.stringify({ name: "Annex" }), headers: { cookie: `ff_key=${admin.key}`, "content-type": "application/json" } };
    expect((await as(undefined, "/api/v1/sites/mall/spaces/annex", body)).status).toBe(401);
    expect((await as(undefined, "/api/v1/keys", cookie(admin.key))).status).toBe(401);
  });

  it("GET /sites lists only the sites the key may read", async () => {
    expect((await jsonOf(await as(mall.key, "/api/v1/sites"))).body).toEqual({ sites: ["mall"] });
    expect((await jsonOf(await as(admin.key, "/api/v1/sites"))).body).toEqual({ sites: ["mall", "office"] });
    expect((await as(undefined, "/api/v1/sites")).status).toBe(401);
  });

  it("a camera of another site is 404, as an unknown camera is; its own site's camera is read", async () => {
    expect((await as(mall.key, "/api/v1/cameras/cam-mall/chunks")).status).toBe(200);
    const other = await jsonOf(await as(mall.key, "/api/v1/cameras/cam-office/chunks"));
    const unknown = await jsonOf(await as(mall.key, "/api/v1/cameras/cam-nowhere/chunks"));
    expect(other.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(other.body.reason.replace("cam-office", "X")).toBe(unknown.body.reason.replace("cam-nowhere", "X"));
    expect((await as(mall.key, "/api/v1/cameras/cam-office/clip?from=now&to=now")).status).toBe(404);
    // the retention of a camera is administration
    expect((await as(mall.key, "/api/v1/cameras/cam-mall/retention")).status).toBe(403);
    expect((await as(admin.key, "/api/v1/cameras/cam-office/chunks")).status).toBe(200);
  });

  it("the query history shows a key only the queries of its sites", async () => {
    const asked = await as(mall.key, "/api/v1/stats/distance?site=mall");
    expect(asked.status).toBe(200);
    const id = asked.headers.get("x-query-id")!;
    expect((await as(mall.key, `/api/v1/queries/${id}`)).status).toBe(200);
    expect((await as(office.key, `/api/v1/queries/${id}`)).status).toBe(404);
    const listed = async (key: string) => ((await jsonOf(await as(key, "/api/v1/queries?limit=200"))).body.queries as Array<{ id: string }>).map((q) => q.id);
    expect(await listed(mall.key)).toContain(id);
    expect(await listed(office.key)).not.toContain(id);
    expect(await listed(admin.key)).toContain(id);
    // a refused query that named no site: only who reads every site sees it
    const siteless = (await as(mall.key, "/api/v1/paths")).headers.get("x-query-id")!;
    expect(await listed(admin.key)).toContain(siteless);
    expect(await listed(mall.key)).not.toContain(siteless);
  });

  it("keys: the admin token and admin keys create, list and revoke them; viewer keys cannot", async () => {
    const byAdminKey = await createKey(admin.key, { role: "viewer", sites: ["mall"], name: "second wall" });
    expect(byAdminKey.status).toBe(201);
    expect(byAdminKey.body).toEqual({ id: expect.stringMatching(/^[a-f0-9]{12}$/), key: expect.stringMatching(/^ffk_[a-f0-9]{12}_/) });
    const second = byAdminKey.body as { id: string; key: string };

    expect((await createKey(mall.key, { role: "viewer", sites: ["mall"], name: "mine" })).status).toBe(403);
    expect((await as(mall.key, "/api/v1/keys")).status).toBe(403);
    expect((await as(mall.key, `/api/v1/keys/${office.id}`, { method: "DELETE" })).status).toBe(403);
    expect((await createKey("", { role: "viewer", sites: ["mall"], name: "x" })).status).toBe(401);
    // an admin key can do all the admin token can: it covers every site
    const narrowAdmin = await createKey(admin.key, { role: "admin", sites: ["mall"], name: "narrow" });
    expect(narrowAdmin.status).toBe(400);
    expect(narrowAdmin.body.reason).toMatch(/sites/);
    expect((await createKey(admin.key, { role: "viewer", sites: ["mall"], name: "x", extra: 1 })).status).toBe(400);
    expect((await createKey(admin.key, { role: "owner", sites: ["mall"], name: "x" })).status).toBe(400);

    const listText = await (await as(admin.key, "/api/v1/keys")).text();
    const list = JSON.parse(listText) as { keys: Array<{ id: string; name: string; role: string; sites: unknown; created: number }> };
    expect(list.keys.map((k) => k.id)).toEqual(expect.arrayContaining([mall.id, office.id, admin.id, second.id]));
    expect(list.keys.find((k) => k.id === second.id)).toEqual({ id: second.id, name: "second wall", role: "viewer", sites: ["mall"], created: expect.any(Number) });
    for (const k of [mall, office, admin, second]) expect(listText).not.toContain(k.key.slice(17));
    expect(listText).not.toContain("sha256");

    expect((await as(second.key, "/api/v1/sites/mall/count")).status).toBe(200);
    expect((await as(admin.key, `/api/v1/keys/${second.id}`, { method: "DELETE" })).status).toBe(204);
    await eventually("the revoked key is refused", async () => (await as(second.key, "/api/v1/sites/mall/count")).status === 401, 10_000, 50);
    expect((await as(admin.key, `/api/v1/keys/${second.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(admin.key, "/api/v1/keys/not-a-key-id", { method: "DELETE" })).status).toBe(400);
  });

  it("viewer keys cannot change a topology or the video retention", async () => {
    const put = { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Annex" }) };
    const own = await jsonOf(await as(mall.key, "/api/v1/sites/mall/spaces/annex", put));
    expect(own.status).toBe(403);
    expect(own.body.reason).toMatch(/viewer key/);
    expect((await as(office.key, "/api/v1/sites/mall/spaces/annex", put)).status).toBe(403);
    expect((await as(mall.key, "/api/v1/video/retention")).status).toBe(403);
    expect((await as(admin.key, "/api/v1/sites/mall/spaces/annex", put)).status).toBe(201);
  });

  it("refuses control and bidi characters in names with a reason naming the field; markup is stored and echoed as text", async () => {
    const withName = (name: string) => ({ ...topologyOf("cam-mall"), spaces: [{ id: "floor", name }] });
    const rlo = await jsonOf(await h.admin("PUT", "/api/v1/sites/mall/topology", withName(`Floor${RLO}gnp.exe`)));
    expect(rlo.status).toBe(400);
    expect(rlo.body.reason).toMatch(/spaces\.0\.name: must not contain control or bidi formatting characters/);
    const bell = await jsonOf(await h.admin("PUT", "/api/v1/sites/mall/doorways/front", { entering_to: "floor", exiting_to: "outside", name: "Front\u0007" }));
    expect(bell.status).toBe(400);
    expect(bell.body.reason).toMatch(/name: must not contain/);
    const isolate = await jsonOf(await h.admin("PUT", "/api/v1/sites/mall/spaces/floor", { name: "a\u2066b" }));
    expect(isolate.status).toBe(400);
    expect(isolate.body.reason).toMatch(/name/);
    const keyName = await createKey(h.cfg.adminToken, { role: "viewer", sites: ["mall"], name: `wall${RLO}` });
    expect(keyName.status).toBe(400);
    expect(keyName.body.reason).toMatch(/name: must not contain/);

    const stored = await h.admin("PUT", "/api/v1/sites/mall/spaces/floor", { name: SCRIPT, capacity: 50, polygon: [[0, 0], [10, 0], [10, 10], [0, 10]] });
    expect(stored.status).toBe(200);
    expect(stored.headers.get("content-type")).toMatch(/^application\/json/);
    const topo = await jsonOf(await as(mall.key, "/api/v1/sites/mall/topology"));
    expect(topo.body.spaces.find((s: { id: string }) => s.id === "floor").name).toBe(SCRIPT);
    const markupKey = await createKey(h.cfg.adminToken, { role: "viewer", sites: ["mall"], name: SCRIPT });
    expect(markupKey.status).toBe(201);
    const keys = (await jsonOf(await h.fetch("/api/v1/keys"))).body.keys as Array<{ id: string; name: string }>;
    expect(keys.find((k) => k.id === markupKey.body.id)?.name).toBe(SCRIPT);
  });

  it("health, metrics and the API description need no key", async () => {
    expect((await as(undefined, "/healthz")).status).toBe(200);
    expect((await as(undefined, "/metrics")).status).toBe(200);
    expect((await as(undefined, "/api/v1/openapi.yaml")).status).toBe(200);
    const metrics = await (await as(undefined, "/metrics")).text();
    expect(metrics).toMatch(/footfall_api_access_refused_total\{[^}]*status="401"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/footfall_api_access_refused_total\{[^}]*status="403"[^}]*\} [1-9]/);
  });
});
