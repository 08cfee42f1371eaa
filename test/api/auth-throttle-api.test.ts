import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startApiHarness, type ApiHarness } from "./api-harness.ts";
import { eventually } from "../support/retry.ts";
import { metricValue } from "../broker/broker-fixture.ts";

const BAN_AFTER = 3;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A request from a chosen loopback address (127.0.0.x), so tests can be several clients. */
function from(address: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }>((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: init.headers, localAddress: address }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => { text += d.toString(); });
      res.on("end", () => {
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

describe("failed HTTP logins throttled per address and per id (real nats-server)", () => {
  let h: ApiHarness;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const throttled = (scope: string, outcome: string) =>
    metricValue(h.metrics, "footfall_auth_throttled_total", { surface: "http", scope, outcome });

  beforeAll(async () => {
    h = await startApiHarness({ overrides: { authFreeFailures: 1, authDelayMs: 10, authMaxDelayMs: 20, authBanAfter: BAN_AFTER, authBanS: 600 } });
    const r = await h.admin("PUT", "/api/v1/sites/hq/topology", {
      spaces: [{ id: "lobby", name: "Lobby" }],
      doorways: [{ id: "front", entering_to: "lobby", exiting_to: "outside" }],
      devices: [{ id: "dpu-t", kind: "dpu", doorway: "front", secret: "dpu-t-secret" }],
    });
    expect(r.status).toBe(200);
    await eventually("registry has the device", () => h.registry.get("dpu-t") !== undefined);
  });
  afterAll(async () => { await h?.stop(); });

  it("bans an address after wrong Bearer tokens: 429 with Retry-After and {error, reason}, even for the right token", async () => {
    const url = `${h.url}/api/v1/sites`;
    for (let i = 0; i < BAN_AFTER; i++) expect((await from("127.0.0.11", url, { headers: bearer(`wrong-token-${i}`) })).status).toBe(401);
    const r = await from("127.0.0.11", url, { headers: bearer(ADMIN_TOKEN) });
    expect(r.status).toBe(429);
    expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
    expect(r.body).toMatchObject({ error: "too_many_requests", reason: expect.stringContaining("too many failed logins from 127.0.0.11") });
    expect(await throttled("address", "banned")).toBe(1);
    expect(await throttled("address", "delayed")).toBeGreaterThan(0);
    expect(await metricValue(h.metrics, "footfall_api_access_refused_total", { status: "429" })).toBe(1);
    // admin routes too
    expect((await from("127.0.0.11", `${h.url}/api/v1/keys`, { method: "POST", headers: bearer(ADMIN_TOKEN), body: "{}" })).status).toBe(429);
  });

  it("the right token from another address is served, and its success does not lift the other address's ban", async () => {
    expect((await from("127.0.0.12", `${h.url}/api/v1/sites`, { headers: bearer(ADMIN_TOKEN) })).status).toBe(200);
    expect((await from("127.0.0.11", `${h.url}/api/v1/sites`, { headers: bearer(ADMIN_TOKEN) })).status).toBe(429);
  });

  it("a device's HTTP Basic: the attacker's address is banned, the device with its secret from its own address is served", async () => {
    const url = `${h.url}/api/v1/dpus/dpu-t/crossings`;
    const post = (address: string, secret: string) => from(address, url, {
      method: "POST", headers: { authorization: basic("dpu-t", secret), "content-type": "application/json" },
      body: JSON.stringify({ id: `e-${Math.random()}`, ts: new Date(Date.now() - 60_000).toISOString(), doorway: "front", delta: 1 }),
    });
    for (let i = 0; i < BAN_AFTER; i++) expect((await post("127.0.0.13", "guess")).status).toBe(401);
    const banned = await post("127.0.0.13", "dpu-t-secret");
    expect(banned.status).toBe(429);
    expect(banned.body).toMatchObject({ error: "too_many_requests" });
    // the id's failures slowed the attacker's wrong answers ...
    expect(await throttled("id", "delayed")).toBeGreaterThan(0);
    // ... and the device, from elsewhere, is answered and accepted
    const ok = await post("127.0.0.14", "dpu-t-secret");
    expect(ok.status, JSON.stringify(ok.body)).toBeLessThan(300);
  });

  it("the wall: wrong keys in ?key= ban the address; then even the right key gets a 429 page, and plan.json a 429 JSON", async () => {
    const made = await h.admin("POST", "/api/v1/keys", { role: "viewer", sites: ["hq"], name: "hq wall" });
    expect(made.status).toBe(201);
    const { key } = (await made.json()) as { key: string };
    for (let i = 0; i < BAN_AFTER; i++) {
      const wrong = await from("127.0.0.15", `${h.url}/wall/hq?key=ffk_000000000000_wrongwrongwrongwrong${i}`);
      expect(wrong.status).toBe(401);
      expect(wrong.body).toContain("was not accepted");
    }
    const page = await from("127.0.0.15", `${h.url}/wall/hq?key=${encodeURIComponent(key)}`);
    expect(page.status).toBe(429);
    expect(Number(page.headers["retry-after"])).toBeGreaterThan(0);
    expect(page.body).toContain("too many failed logins from 127.0.0.15");
    expect(page.headers["set-cookie"]).toBeUndefined();
    const plan = await from("127.0.0.15", `${h.url}/wall/hq/plan.json`, { headers: bearer(key) });
    expect(plan.status).toBe(429);
    expect(plan.body).toMatchObject({ error: "too_many_requests" });
    // the same key from the wall's own address trades for its cookie
    const ok = await from("127.0.0.16", `${h.url}/wall/hq?key=${encodeURIComponent(key)}`);
    expect(ok.status).toBe(303);
    expect(String(ok.headers["set-cookie"])).toContain("ff_key=");
  });
});
