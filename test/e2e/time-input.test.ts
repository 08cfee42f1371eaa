import mqtt from "mqtt";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoMall, toTopologyDoc } from "../../firmware-sim/building.ts";
import { deviceTopic } from "../../contracts/topics.ts";
import { ActorKinds, actorSubject } from "../../contracts/nats-layout.ts";
import { crossingMsgId } from "../../contracts/crossing.ts";
import type { CrossingMsg } from "../../contracts/occupancy-messages.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";

/**
 * Time input end to end (real nats-server, influxd, broker, API, actor host): an impossible
 * calendar date and an event older than the raw retention (30 days) are refused where they
 * enter (MQTT, HTTP ingest, API queries) and counted nowhere, neither live nor in history.
 * Each refused event is the first on its doorway, followed by a good one: had it been counted,
 * the space's count would be 2, not 1.
 */
const SITE = "time-mall";
const DAY = 86_400_000;

describe("time input: impossible dates and events older than the raw retention", { timeout: 120_000 }, () => {
  let stack: TestStack;
  const plan = demoMall(SITE);
  const secrets = Object.fromEntries(plan.dpus.map((d) => [d.id, `secret-${d.id}`]));
  const dpu = (doorway: string) => plan.dpus.find((d) => d.doorway === doorway)!.id;
  const recent = Date.now() - 60_000;

  beforeAll(async () => {
    stack = await startTestStack({ hosts: 1 });
    const put = await stack.admin("PUT", `/api/v1/sites/${SITE}/topology`, toTopologyDoc(plan, secrets));
    expect(put.status, await put.clone().text()).toBe(200);
  });
  afterAll(async () => { await stack?.stop(); });

  async function publish(doorway: string, payload: unknown): Promise<void> {
    const id = dpu(doorway);
    const client = await mqtt.connectAsync(stack.mqttUrl, { username: id, password: secrets[id], clientId: `${id}-t`, reconnectPeriod: 0 });
    try {
      await client.publishAsync(deviceTopic(SITE, "dpu", id, "crossing"), JSON.stringify(payload), { qos: 1 });
    } finally {
      await client.endAsync();
    }
  }

  async function countNow(space: string): Promise<number> {
    const r = await stack.fetch(`/api/v1/sites/${SITE}/spaces/${space}/count`);
    expect(r.status).toBe(200);
    return ((await r.json()) as { count: number }).count;
  }

  async function brokerRefused(reason: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${stack.cfg.brokerOpsPort}/metrics`)).text();
    const m = new RegExp(`^footfall_broker_refused_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  }

  it("refuses 2026-02-30 and an event older than the raw retention over MQTT; neither is counted live or in history", async () => {
    const invalidBefore = await brokerRefused("invalid_payload");
    const lateBefore = await brokerRefused("too_late");
    // main entrance (outside -> lobby): the impossible date first, then a good crossing
    await publish("main-entrance", { id: "feb30", ts: "2026-02-30T00:00:00Z", doorway: "main-entrance", delta: 1 });
    await publish("main-entrance", { id: "good-1", ts: new Date(recent).toISOString(), doorway: "main-entrance", delta: 1 });
    // side entrance (outside -> corridor): 31 days old, then a good crossing
    await publish("side-entrance", { id: "old-1", ts: Date.now() - 31 * DAY, doorway: "side-entrance", delta: 1 });
    await publish("side-entrance", { id: "good-2", ts: recent + 1000, doorway: "side-entrance", delta: 1 });

    expect(await brokerRefused("invalid_payload")).toBe(invalidBefore + 1);
    expect(await brokerRefused("too_late")).toBe(lateBefore + 1);

    await eventually("both good crossings counted", async () => (await countNow("lobby")) > 0 && (await countNow("corridor")) > 0, 30_000);
    expect(await countNow("lobby")).toBe(1);
    expect(await countNow("corridor")).toBe(1);
    const influx = influxClient(stack.cfg.influxUrl!, stack.cfg.influxDb);
    const rows = await influx.query<{ device: string }>(`SELECT "delta", "device" FROM "${MEASUREMENT_CROSSINGS}" WHERE "site" = '${SITE}' AND ("device" = '${dpu("main-entrance")}' OR "device" = '${dpu("side-entrance")}')`);
    expect(rows).toHaveLength(2);
  });

  it("the doorway actor refuses an over-retention crossing that reached the stream by another way (not counted, no point)", async () => {
    const nc = await connectNats(stack.cfg.natsUrl!, "time-input-test");
    try {
      const js = jetstream(nc);
      const device = dpu("terrace-door");
      const send = async (eventId: string, ts: number) => {
        const msg: CrossingMsg = { type: "crossing", site: SITE, doorway: "terrace-door", device, eventId, ts, delta: 1, receivedAt: Date.now() };
        await js.publish(actorSubject(ActorKinds.doorway, `${SITE}.terrace-door`, stack.cfg.partitions), JSON.stringify(msg), { msgID: crossingMsgId(device, eventId) });
      };
      await send("old-2", Date.now() - 40 * DAY);
      await send("good-3", recent);
      await eventually("the good crossing counted", async () => (await countNow("food-court")) > 0, 30_000);
      expect(await countNow("food-court")).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it("HTTP ingest refuses an impossible date (400) and an over-retention event (422 too_late), storing nothing", async () => {
    const id = dpu("fashion-street");
    const post = (body: unknown) => fetch(`${stack.apiUrl}/api/v1/dpus/${id}/crossings`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`${id}:${secrets[id]}`).toString("base64")}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const bad = await post({ id: "h-feb30", ts: "2026-02-30T00:00:00Z", doorway: "fashion-street", delta: 1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { reason: string }).reason).toMatch(/not a calendar date: February 2026 has 28 days/);
    const old = await post([{ id: "h-good", ts: recent, doorway: "fashion-street", delta: 1 }, { id: "h-old", ts: Date.now() - 31 * DAY, doorway: "fashion-street", delta: 1 }]);
    expect(old.status).toBe(422);
    const body = (await old.json()) as { error: string; reason: string };
    expect(body.error).toBe("too_late");
    expect(body.reason).toMatch(/h-old.*too late.*raw retention 30d/);
    // nothing of the refused batch was stored: its good event is new when sent again
    const again = await post({ id: "h-good", ts: recent, doorway: "fashion-street", delta: 1 });
    expect(again.status).toBe(201);
  });

  it("API queries refuse an impossible date with a reason", async () => {
    const r = await stack.fetch(`/api/v1/sites/${SITE}/spaces/lobby/count?at=2026-02-30T00:00:00Z`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { reason: string }).reason).toMatch(/at: 2026-02-30T00:00:00Z is not a calendar date: February 2026 has 28 days/);
    const s = await stack.fetch(`/api/v1/sites/${SITE}/spaces/lobby/series?from=2026-02-29&to=2026-03-01`);
    expect(s.status).toBe(400);
    expect(((await s.json()) as { reason: string }).reason).toMatch(/February 2026 has 28 days/);
    const ok = await stack.fetch(`/api/v1/sites/${SITE}/spaces/lobby/count?at=2028-02-29T00:00:00Z`);
    expect(ok.status).toBe(200);
  });
});

describe("the late horizon and the raw retention agree", () => {
  it("the effective late horizon is the smaller of FOOTFALL_LATE_HORIZON_H and the actors' accept window of the raw retention", async () => {
    const { lateHorizonMs, OccupancyParams } = await import("../../actors/timeline/late-horizon.ts");
    const { acceptWindowMs } = await import("../../contracts/time.ts");
    const H = 3_600_000;
    expect(lateHorizonMs(OccupancyParams.parse({ lateHorizonHours: 48, rawRetention: "30d" }))).toBe(48 * H);
    // 1 day kept: margin 1 h; the door takes events up to 23 h old, the actors up to 23.5 h
    expect(acceptWindowMs("1d", "door")).toBe(23 * H);
    expect(acceptWindowMs("1d", "actor")).toBe(23.5 * H);
    expect(lateHorizonMs(OccupancyParams.parse({ lateHorizonHours: 48, rawRetention: "1d" }))).toBe(23.5 * H);
    // 5 hours kept: margin a tenth (30 min)
    expect(acceptWindowMs("5h", "door")).toBe(4.5 * H);
    expect(lateHorizonMs(OccupancyParams.parse({ lateHorizonHours: 48, rawRetention: "5h" }))).toBe(4.75 * H);
    expect(lateHorizonMs(OccupancyParams.parse({ lateHorizonHours: 48, rawRetention: "INF" }))).toBe(48 * H);
    expect(acceptWindowMs("30d", "door")).toBe(30 * 24 * H - H);
  });
});
