import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../infra/nats.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { deviceTopic } from "../../contracts/topics.ts";
import { occupancyEventSubject, STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";

const run = promisify(execFile);

describe("a client we did not write: Debian's mosquitto_pub", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ hosts: 1 });
    const r = await stack.admin("PUT", "/api/v1/sites/shop/topology", {
      spaces: [{ id: "floor", name: "Shop floor" }],
      doorways: [{ id: "front", entering_to: "floor", exiting_to: "outside" }],
      devices: [{ id: "dpu-front", kind: "dpu", doorway: "front", secret: "front-door-secret" }],
    });
    expect(r.status).toBe(200);
  });
  afterAll(async () => { await stack?.stop(); });
  /** when the first crossings happened */
  const t0 = Date.now() - 60_000;

  it("publishes crossings with a device's credentials and they are counted", async () => {
    const topic = deviceTopic("shop", "dpu", "dpu-front", "crossing");
    const pub = (payload: unknown) => run("mosquitto_pub", [
      "-h", "127.0.0.1", "-p", String(stack.cfg.mqttPort), "-i", "dpu-front",
      "-u", "dpu-front", "-P", "front-door-secret", "-q", "1", "-t", topic, "-m", JSON.stringify(payload),
    ]);
    await pub({ id: "m-1", ts: new Date(t0).toISOString(), doorway: "front", delta: 1 });
    await pub({ events: [
      { id: "m-2", ts: t0 + 1000, doorway: "front", delta: 1 },
      { id: "m-3", ts: t0 + 2000, doorway: "front", delta: 1 },
      { id: "m-4", ts: t0 + 3000, doorway: "front", delta: -1 },
    ] });
    // a re-send of m-1 changes nothing
    await pub({ id: "m-1", ts: new Date(t0).toISOString(), doorway: "front", delta: 1 });
    await eventually("count of floor is 2", async () => {
      const r = await stack.fetch(`/api/v1/sites/shop/spaces/floor/count`);
      return ((await r.json()) as { count: number }).count === 2;
    }, 30_000);
    const at = await stack.fetch(`/api/v1/sites/shop/spaces/floor/count?at=${t0 + 2500}`);
    expect(((await at.json()) as { count: number }).count).toBe(3);
    // dashboards get the current count from the events stream
    const nc = await connectNats(stack.cfg.natsUrl!, "mosquitto");
    try {
      const jsm = await jetstreamManager(nc);
      await eventually("the last occupancy.changed event says 2", async () => {
        const m = await jsm.streams.getMessage(STREAM_EVENTS, { last_by_subj: occupancyEventSubject("shop", "floor") });
        return m?.json<{ count: number }>().count === 2;
      }, 15_000);
    } finally {
      await nc.close();
    }
  });

  it("HTTP ingest takes the same path: an event already sent over MQTT is a 409 (or, sent in a batch, a 201 that changes nothing), a new one counts", async () => {
    const auth = `Basic ${Buffer.from("dpu-front:front-door-secret").toString("base64")}`;
    const post = (body: unknown) => fetch(`${stack.apiUrl}/api/v1/dpus/dpu-front/crossings`, {
      method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const before = ((await (await stack.fetch(`/api/v1/sites/shop/spaces/floor/count`)).json()) as { count: number }).count;
    // m-1 was stored on its own, under its id: JetStream knows it
    const again = await post({ id: "m-1", ts: t0, doorway: "front", delta: 1 });
    expect(again.status).toBe(409);
    // m-2 came in a payload of three, stored as one batch without ids: stored again, dropped by the doorway actor
    const inBatch = await post({ id: "m-2", ts: t0 + 1000, doorway: "front", delta: 1 });
    expect(inBatch.status).toBe(201);
    const fresh = await post([{ id: "h-1", ts: Date.now() - 1000, doorway: "front", delta: 1 }]);
    expect(fresh.status).toBe(201);
    expect(await fresh.json()).toEqual({ stored: 1, duplicates: 0 });
    await eventually("the HTTP crossing is counted", async () => {
      const r = await stack.fetch(`/api/v1/sites/shop/spaces/floor/count`);
      return ((await r.json()) as { count: number }).count === before + 1;
    }, 30_000);
  });

  it("wrong credentials are refused", async () => {
    const topic = deviceTopic("shop", "dpu", "dpu-front", "crossing");
    await expect(run("mosquitto_pub", [
      "-h", "127.0.0.1", "-p", String(stack.cfg.mqttPort), "-u", "dpu-front", "-P", "wrong-secret",
      "-q", "1", "-t", topic, "-m", "{}",
    ])).rejects.toThrow();
  });
});
