import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiHarness, jsonOf, type ApiHarness } from "./api-harness.ts";
import { eventually } from "../support/retry.ts";

const shop = {
  spaces: [{ id: "floor", name: "Shop floor", capacity: 80 }, { id: "store", name: "Store room" }],
  doorways: [
    { id: "front", entering_to: "floor", exiting_to: "outside" },
    { id: "back", entering_to: "store", exiting_to: "floor" },
  ],
  devices: [
    { id: "dpu-front", kind: "dpu", doorway: "front", secret: "front-door-secret" },
    { id: "dpu-back", kind: "dpu", doorway: "back" },
  ],
};

describe("topology API (real nats-server)", () => {
  let h: ApiHarness;
  beforeAll(async () => { h = await startApiHarness({ overrides: { maxPayloadBytes: 2048 } }); });
  afterAll(async () => { await h?.stop(); });

  it("requires a token on every topology route", async () => {
    const routes: Array<[string, string]> = [
      ["GET", "/api/v1/sites"], ["GET", "/api/v1/sites/shop/topology"], ["PUT", "/api/v1/sites/shop/topology"],
      ["PUT", "/api/v1/sites/shop/spaces/a"], ["DELETE", "/api/v1/sites/shop/spaces/a"],
      ["PUT", "/api/v1/sites/shop/doorways/a"], ["DELETE", "/api/v1/sites/shop/doorways/a"],
      ["PUT", "/api/v1/sites/shop/devices/a"], ["DELETE", "/api/v1/sites/shop/devices/a"],
    ];
    for (const [method, path] of routes) {
      const none = await jsonOf(await fetch(`${h.url}${path}`, { method }));
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body).toMatchObject({ error: "unauthorized" });
      const wrong = await fetch(`${h.url}${path}`, { method, headers: { authorization: "Bearer not-the-token" } });
      expect(wrong.status, `${method} ${path}`).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });

  it("imports a topology: secrets generated once, never served, and usable by the device registry", async () => {
    const put = await jsonOf(await h.admin("PUT", "/api/v1/sites/shop/topology", shop));
    expect(put.status).toBe(200);
    expect(Object.keys(put.body.generated_secrets)).toEqual(["dpu-back"]);
    expect(put.body.topology).toMatchObject({ site: "shop", spaces: shop.spaces, doorways: shop.doorways });
    const secret = put.body.generated_secrets["dpu-back"] as string;

    const got = await h.admin("GET", "/api/v1/sites/shop/topology");
    const text = await got.text();
    expect(got.status).toBe(200);
    expect(text).not.toContain("secret");
    expect(text).not.toContain(secret);
    expect(JSON.parse(text).devices).toEqual([{ id: "dpu-front", kind: "dpu", doorway: "front" }, { id: "dpu-back", kind: "dpu", doorway: "back" }]);

    const again = await jsonOf(await h.admin("PUT", "/api/v1/sites/shop/topology", { ...shop, devices: shop.devices.map(({ secret: _s, ...d }) => d) }));
    expect(again.body.generated_secrets).toEqual({});

    await eventually("registry sees dpu-back", () => h.registry.get("dpu-back") !== undefined);
    expect(await h.registry.authenticate("dpu-back", secret)).toMatchObject({ site: "shop", doorway: "back" });
    expect(await h.registry.authenticate("dpu-front", "front-door-secret")).toMatchObject({ site: "shop", doorway: "front" });

    const sites = await jsonOf(await h.admin("GET", "/api/v1/sites"));
    expect(sites.body.sites).toContain("shop");
  });

  it("refuses a topology breaking graph rules with 422 and the list of errors, a malformed one with 400", async () => {
    const bad = await jsonOf(await h.admin("PUT", "/api/v1/sites/broken/topology", {
      spaces: [{ id: "outside", name: "Street" }, { id: "a", name: "A" }],
      doorways: [{ id: "d1", entering_to: "a", exiting_to: "a" }, { id: "d2", entering_to: "nowhere", exiting_to: "outside" }],
      devices: [{ id: "x1", kind: "dpu", doorway: "d1" }, { id: "x2", kind: "dpu", doorway: "d1" }, { id: "dpu-front", kind: "dpu", doorway: "d2" }],
    }));
    expect(bad.status).toBe(422);
    expect(bad.body.error).toBe("invalid_topology");
    expect(bad.body.errors).toEqual([
      'space "outside": "outside" is implied and must not be declared',
      'doorway "d1" leads from "a" into itself',
      'doorway "d2": entering_to "nowhere" is not a space of site "broken"',
      'device "x2": doorway "d1" already has dpu "x1" (two would count every crossing twice)',
      'device "dpu-front" belongs to site "shop"',
    ]);
    expect((await h.admin("GET", "/api/v1/sites/broken/topology")).status).toBe(404);

    const shape = await jsonOf(await h.admin("PUT", "/api/v1/sites/broken/topology", { spaces: [{ id: "a b", name: "" }], doorways: "none" }));
    expect(shape.status).toBe(400);
    expect(shape.body.error).toBe("invalid_request");
    expect(shape.body.reason).toMatch(/spaces\.0\.id/);
    expect(shape.body.reason).toMatch(/doorways/);
    expect(shape.body.errors.length).toBeGreaterThanOrEqual(3);

    const badSite = await jsonOf(await h.admin("PUT", "/api/v1/sites/no.dots/topology", shop));
    expect(badSite.status).toBe(400);
  });

  it("edits spaces, doorways and devices one at a time", async () => {
    const sp = await jsonOf(await h.admin("PUT", "/api/v1/sites/cafe/spaces/bar", { name: "Bar" }));
    expect(sp.status).toBe(201);
    expect(sp.body.space).toEqual({ id: "bar", name: "Bar" });
    expect((await h.admin("PUT", "/api/v1/sites/cafe/spaces/bar", { id: "bar", name: "The bar", capacity: 30 })).status).toBe(200);
    const mismatch = await jsonOf(await h.admin("PUT", "/api/v1/sites/cafe/spaces/bar", { id: "pub", name: "x" }));
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.reason).toMatch(/differs from the path/);

    expect((await h.admin("PUT", "/api/v1/sites/cafe/doorways/door", { entering_to: "bar", exiting_to: "outside" })).status).toBe(201);
    const loop = await jsonOf(await h.admin("PUT", "/api/v1/sites/cafe/doorways/loop", { entering_to: "bar", exiting_to: "bar" }));
    expect(loop.status).toBe(422);

    const dev = await jsonOf(await h.admin("PUT", "/api/v1/sites/cafe/devices/dpu-cafe", { kind: "dpu", doorway: "door" }));
    expect(dev.status).toBe(201);
    expect(dev.body.device).toEqual({ id: "dpu-cafe", kind: "dpu", doorway: "door" });
    expect(typeof dev.body.generated_secrets["dpu-cafe"]).toBe("string");
    const rotated = await jsonOf(await h.admin("PUT", "/api/v1/sites/cafe/devices/dpu-cafe", { kind: "dpu", doorway: "door", secret: "cafe-secret-2" }));
    expect(rotated.status).toBe(200);
    expect(rotated.body.generated_secrets).toEqual({});
    expect(JSON.stringify(rotated.body)).not.toContain("cafe-secret-2");

    const inUse = await jsonOf(await h.admin("DELETE", "/api/v1/sites/cafe/spaces/bar"));
    expect(inUse.status).toBe(409);
    expect(inUse.body).toMatchObject({ error: "in_use", reason: 'space "bar" is still used by doorway(s) "door"' });
    expect((await jsonOf(await h.admin("DELETE", "/api/v1/sites/cafe/doorways/door"))).status).toBe(409);
    expect((await jsonOf(await h.admin("DELETE", "/api/v1/sites/cafe/spaces/kitchen"))).status).toBe(404);

    expect((await h.admin("DELETE", "/api/v1/sites/cafe/devices/dpu-cafe")).status).toBe(200);
    expect((await h.admin("DELETE", "/api/v1/sites/cafe/doorways/door")).status).toBe(200);
    const last = await jsonOf(await h.admin("DELETE", "/api/v1/sites/cafe/spaces/bar"));
    expect(last.status).toBe(200);
    expect(last.body.topology).toMatchObject({ site: "cafe", spaces: [], doorways: [], devices: [] });
    await eventually("registry forgets dpu-cafe", () => h.registry.get("dpu-cafe") === undefined);
  });

  it("answers bad JSON with 400, an oversized body with 413, unknown routes with 404 and unknown methods with 405, all as JSON", async () => {
    const badJson = await jsonOf(await h.admin("PUT", "/api/v1/sites/shop/topology", "{ not json"));
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toBe("invalid_json");
    expect(typeof badJson.body.reason).toBe("string");

    const big = { spaces: Array.from({ length: 100 }, (_, i) => ({ id: `s${i}`, name: "x".repeat(40) })), doorways: [] };
    const tooBig = await jsonOf(await h.admin("PUT", "/api/v1/sites/shop/topology", big));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toMatchObject({ error: "payload_too_large" });

    const unknown = await jsonOf(await fetch(`${h.url}/api/v1/nothing/here`));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: "not_found" });
    // a known path with a method it does not answer: 405 naming the methods it does (before any key is asked for)
    const post = await fetch(`${h.url}/api/v1/sites`, { method: "POST" });
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect(await jsonOf(post)).toMatchObject({ status: 405, body: { error: "method_not_allowed" } });
    const patch = await h.fetch("/api/v1/sites/shop/spaces/floor", { method: "PATCH" });
    expect(patch.status).toBe(405);
    expect(patch.headers.get("allow")).toBe("PUT, DELETE");
    expect((await fetch(`${h.url}/healthz`, { method: "DELETE" })).status).toBe(405);
  });

  it("serves its OpenAPI description, covering every route", async () => {
    const r = await fetch(`${h.url}/api/v1/openapi.yaml`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/yaml/);
    const text = await r.text();
    expect(text).toMatch(/^openapi: 3\.1/m);
    for (const p of [
      "/sites/{site}/spaces/{space}/count:", "/sites/{site}/spaces/{space}/series:", "/sites/{site}/spaces/{space}/daily:",
      "/sites/{site}/count:", "/sites:", "/sites/{site}/topology:", "/sites/{site}/spaces/{id}:", "/sites/{site}/doorways/{id}:",
      "/sites/{site}/devices/{id}:", "/dpus/{device}/crossings:", "/cameras/{camera}/chunks/{seq}:", "/cameras/{camera}/clip:", "/video/retention/cameras/{camera}:", "/healthz:", "/metrics:", "/openapi.yaml:",
    ]) expect(text, p).toContain(`  ${p}`);
  });

  it("counts requests by route and status in /metrics", async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/footfall_api_http_requests_total\{[^}]*route="\/api\/v1\/sites\/:site\/topology"[^}]*status="200"/);
    expect(text).toMatch(/footfall_api_http_requests_total\{[^}]*route="unmatched"[^}]*status="404"/);
    expect(text).toContain("footfall_api_http_request_duration_seconds_bucket");
  });
});
