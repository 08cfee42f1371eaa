import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { startApiHarness, jsonOf, type ApiHarness } from "./api-harness.ts";
import { eventually } from "../support/retry.ts";
import { provisionNats } from "../../infra/provision.ts";
import { ActorKinds, STREAM_ACTORS, actorSubject } from "../../contracts/nats-layout.ts";
import { CrossingMsg } from "../../contracts/occupancy-messages.ts";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
// recent: events older than the raw retention (30 days) are refused as too late
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;

describe("HTTP ingest POST /api/v1/dpus/{device}/crossings (real nats-server, JetStream)", () => {
  let h: ApiHarness;
  const post = (device: string, body: unknown, auth: string | null = basic(device, `${device}-secret`)) =>
    fetch(`${h.url}/api/v1/dpus/${device}/crossings`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    h = await startApiHarness({ overrides: { maxPayloadBytes: 1024 } });
    const r = await h.admin("PUT", "/api/v1/sites/hq/topology", {
      spaces: [{ id: "lobby", name: "Lobby" }],
      doorways: [{ id: "front", entering_to: "lobby", exiting_to: "outside" }, { id: "side", entering_to: "lobby", exiting_to: "outside" }],
      devices: [
        { id: "dpu-a", kind: "dpu", doorway: "front", secret: "dpu-a-secret" },
        { id: "dpu-b", kind: "dpu", doorway: "side", secret: "dpu-b-secret" },
        { id: "cam-1", kind: "camera", secret: "cam-1-secret" },
      ],
    });
    expect(r.status).toBe(200);
    await eventually("registry has the devices", () => ["dpu-a", "dpu-b", "cam-1"].every((id) => h.registry.get(id)));
  });
  afterAll(async () => { await h?.stop(); });

  it("401 with WWW-Authenticate without credentials, with a wrong secret, or as another device", async () => {
    for (const auth of [null, basic("dpu-a", "wrong-secret"), basic("dpu-b", "dpu-b-secret"), "Bearer dpu-a-secret"]) {
      const r = await post("dpu-a", { id: "e0", ts: T0, doorway: "front", delta: 1 }, auth);
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Basic realm="footfall-dpu"/);
      expect((await r.json()).error).toBe("unauthorized");
    }
    expect((await post("nobody", { id: "e0", ts: T0, doorway: "front", delta: 1 })).status).toBe(401);
  });

  it("stores a crossing into JetStream once: 201, then 409 duplicate; a batch with one new event is 201", async () => {
    const first = await jsonOf(await post("dpu-a", { id: "e1", ts: new Date(T0).toISOString(), doorway: "front", delta: 1 }));
    expect(first).toEqual({ status: 201, body: { stored: 1, duplicates: 0 } });

    const dup = await jsonOf(await post("dpu-a", [{ id: "e1", ts: T0, doorway: "front", delta: 1 }]));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ error: "duplicate", duplicates: 1, stored: 0 });
    expect(typeof dup.body.reason).toBe("string");

    const mixed = await jsonOf(await post("dpu-a", [{ id: "e1", ts: T0, doorway: "front", delta: 1 }, { id: "e2", ts: T0 + 1000, doorway: "front", delta: -1 }]));
    expect(mixed).toEqual({ status: 201, body: { stored: 1, duplicates: 1 } });

    const jsm = await jetstreamManager(h.nc);
    const subject = actorSubject(ActorKinds.doorway, "hq.front", h.cfg.partitions);
    const stored = await jsm.streams.getMessage(STREAM_ACTORS, { last_by_subj: subject });
    expect(stored).not.toBeNull();
    const m1 = CrossingMsg.parse(stored!.json());
    expect(m1).toMatchObject({ type: "crossing", site: "hq", doorway: "front", device: "dpu-a", eventId: "e2", ts: T0 + 1000, delta: -1 });
    expect((await jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(2);
  });

  it("400 with the reason for payloads the device may not send or that are malformed", async () => {
    const wrongDoor = await jsonOf(await post("dpu-a", { id: "e3", ts: T0, doorway: "side", delta: 1 }));
    expect(wrongDoor.status).toBe(400);
    expect(wrongDoor.body.reason).toBe("device dpu-a sits on doorway front, not side");

    const camera = await jsonOf(await post("cam-1", { id: "e4", ts: T0, doorway: "front", delta: 1 }));
    expect(camera.status).toBe(400);
    expect(camera.body.reason).toMatch(/not a dpu/);

    const badDelta = await jsonOf(await post("dpu-a", { id: "e5", ts: T0, doorway: "front", delta: 2 }));
    expect(badDelta.status).toBe(400);
    expect(badDelta.body.error).toBe("invalid_payload");

    const twice = await jsonOf(await post("dpu-a", [{ id: "e6", ts: T0, doorway: "front", delta: 1 }, { id: "e6", ts: T0, doorway: "front", delta: 1 }]));
    expect(twice.status).toBe(400);
    expect(twice.body.reason).toMatch(/more than once/);

    const badJson = await jsonOf(await post("dpu-a", "{\"id\":"));
    expect(badJson).toMatchObject({ status: 400, body: { error: "invalid_json" } });

    const tooBig = await jsonOf(await post("dpu-a", Array.from({ length: 30 }, (_, i) => ({ id: `big-${i}`, ts: T0, doorway: "front", delta: 1 }))));
    expect(tooBig).toMatchObject({ status: 413, body: { error: "payload_too_large" } });

    const empty = await jsonOf(await post("dpu-a", ""));
    expect(empty.status).toBe(400);

    const jsm = await jetstreamManager(h.nc);
    expect((await jsm.streams.info(STREAM_ACTORS)).state.messages).toBe(2);
  });

  it("503 when JetStream cannot store the crossings, and stores them once it can", async () => {
    const jsm = await jetstreamManager(h.nc);
    await jsm.streams.delete(STREAM_ACTORS);
    const down = await jsonOf(await post("dpu-b", { id: "s1", ts: T0, doorway: "side", delta: 1 }));
    expect(down).toMatchObject({ status: 503, body: { error: "unavailable" } });
    await provisionNats(h.nc, h.cfg);
    const up = await jsonOf(await post("dpu-b", { id: "s1", ts: T0, doorway: "side", delta: 1 }));
    expect(up).toEqual({ status: 201, body: { stored: 1, duplicates: 0 } });
  });

  it("counts ingest outcomes in /metrics", async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/footfall_api_ingest_events_total\{[^}]*result="stored"[^}]*\} 3/);
    expect(text).toMatch(/footfall_api_ingest_events_total\{[^}]*result="duplicate"[^}]*\} 2/);
    expect(text).toMatch(/footfall_api_ingest_requests_total\{[^}]*outcome="unauthorized"[^}]*\} 5/);
    expect(text).toMatch(/footfall_api_ingest_requests_total\{[^}]*outcome="unavailable"[^}]*\} 1/);
  });
});
