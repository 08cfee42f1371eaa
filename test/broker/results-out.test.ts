/**
 * The broker's results (broker/results/) against a real nats-server and aedes over TCP: events
 * put into FF_EVENTS as the actors publish them, read by an API key's MQTT connection (mqtt.js).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt, { type MqttClient } from "mqtt";
import { Registry } from "prom-client";
import { Kvm, type KV } from "@nats-io/kv";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { CreatedKey, KeyView } from "../../contracts/api-keys.ts";
import type { CapacityAlert, OccupancyChanged, PersonUpdate, SiteOccupancyChanged } from "../../contracts/events.ts";
import { OutPerson } from "../../contracts/mqtt-out.ts";
import {
  capacityAlertSubject, KV_TOPOLOGY, occupancyEventSubject, personEventSubject, siteOccupancyEventSubject,
} from "../../contracts/nats-layout.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import { outAlertsTopic, outFilter, outOccupancyTopic, outPersonTopic, outSiteTopic, outStatusTopic } from "../../contracts/topics.ts";
import { KeyStore } from "../../access/key-store.ts";
import { readerMayReceive, readerSubscribeAccess } from "../../broker/reader-access.ts";
import { startResultsOut, type ResultsOut } from "../../broker/results/results-out.ts";
import { connectNats } from "../../infra/nats.ts";
import { provisionNats } from "../../infra/provision.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { captureLog, metricValue, startBrokerUnderTest, type BrokerUnderTest } from "./broker-fixture.ts";

interface Received { topic: string; payload: string; retain: boolean }

/** An API key's MQTT connection, recording every message. */
async function reader(url: string, key: CreatedKey, topics: string[]): Promise<{ c: MqttClient; got: Received[]; next(match: (m: Received) => boolean, from?: number): Promise<Received> }> {
  const c = await mqtt.connectAsync(url, { username: key.id, password: key.key, reconnectPeriod: 500, connectTimeout: 5000 });
  const got: Received[] = [];
  const waiters = new Set<() => void>();
  c.on("message", (topic, payload, packet) => {
    got.push({ topic, payload: payload.toString("utf8"), retain: packet.retain });
    for (const w of waiters) w();
  });
  const granted = await c.subscribeAsync(topics, { qos: 1 });
  expect(granted.map((g) => g.qos)).toEqual(topics.map(() => 1));
  return {
    c, got,
    next: (match, from = 0) => new Promise((resolve, reject) => {
      const check = () => {
        const m = got.slice(from).find(match);
        if (m) { clearTimeout(timer); waiters.delete(check); resolve(m); }
      };
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no such message in ${JSON.stringify(got)}`)); }, 30_000);
      waiters.add(check);
      check();
    }),
  };
}

const topology = (site: string, spaces: Array<{ id: string; name: string; capacity?: number }>): StoredTopology =>
  ({ site, spaces, doorways: [], devices: [], updatedAt: new Date().toISOString() });

describe("results out: FF_EVENTS to MQTT readers (real nats-server, aedes, mqtt.js)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let topo: KV;
  let keys: KeyStore;
  let key: CreatedKey;
  let b: BrokerUnderTest;
  let results: ResultsOut;
  const resultsMetrics = new Registry();
  const clients: MqttClient[] = [];
  const emit = (subject: string, ev: OccupancyChanged | SiteOccupancyChanged | CapacityAlert | PersonUpdate) => js.publish(subject, JSON.stringify(ev));
  const person = (id: string, ts: number): PersonUpdate =>
    ({ type: "person.update", site: "mall", person: id, at: [ts, 1.5, 2.5], space: "hall", distance_m: 3, attrs: { upper: { value: "blue", conf: 0.8 } }, ended: false });
  const alert = (state: "over" | "cleared", count: number): CapacityAlert =>
    ({ type: "alert.capacity", site: "mall", space: "hall", state, count, capacity: 4, at: Date.now() });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "results-test");
    await provisionNats(nc, { leaseTtlMs: 3000 });
    js = jetstream(nc);
    topo = await new Kvm(nc).open(KV_TOPOLOGY);
    await topo.put("mall", JSON.stringify(topology("mall", [{ id: "hall", name: "Great hall", capacity: 4 }])));
    keys = await KeyStore.open(nc);
    key = await keys.create({ role: "viewer", sites: ["mall"], name: "mall reader" });
    // what the actors said before this broker started
    await emit(occupancyEventSubject("mall", "hall"), { type: "occupancy.changed", site: "mall", space: "hall", count: 4, at: 1000 });
    await emit(occupancyEventSubject("mall", "hall"), { type: "occupancy.changed", site: "mall", space: "hall", count: 5, at: 2000 });
    await emit(occupancyEventSubject("mall", "annex"), { type: "occupancy.changed", site: "mall", space: "annex", count: 2, at: 1500 });
    await emit(siteOccupancyEventSubject("mall"), { type: "site_occupancy.changed", site: "mall", count: 7, at: 2000 });
    await emit(capacityAlertSubject("mall", "hall"), alert("over", 5));
    await emit(personEventSubject("mall"), person("p-old", 1000));
    b = await startBrokerUnderTest(s, {
      broker: { keys, beforeListen: async (publish) => { results = await startResultsOut({ nc, publish, log: captureLog().log, metrics: resultsMetrics }); } },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await results?.stop();
    await b?.stop();
    keys?.close();
    await nc?.close();
    await s?.stop();
  });

  it("has the current counts retained at once; past alerts and persons are not replayed; new ones arrive", async () => {
    const r = await reader(b.url, key, [outFilter("mall")]);
    clients.push(r.c);
    const hall = await r.next((m) => m.topic === outOccupancyTopic("mall", "hall"));
    expect(hall.retain).toBe(true);
    expect(JSON.parse(hall.payload)).toEqual({ site: "mall", space: "hall", name: "Great hall", count: 5, capacity: 4, at: new Date(2000).toISOString() });
    expect(JSON.parse((await r.next((m) => m.topic === outSiteTopic("mall"))).payload)).toEqual({ site: "mall", count: 7, at: new Date(2000).toISOString() });
    expect((await r.next((m) => m.topic === outStatusTopic("mall"))).payload).toBe("online");

    await emit(personEventSubject("mall"), person("p-new", 5000));
    await emit(capacityAlertSubject("mall", "hall"), alert("cleared", 4));
    const p = await r.next((m) => m.topic === outPersonTopic("mall"));
    expect(OutPerson.parse(JSON.parse(p.payload))).toEqual({
      site: "mall", person: "p-new", at: new Date(5000).toISOString(), x: 1.5, y: 2.5, space: "hall", distance_m: 3,
      attrs: { upper: { value: "blue", conf: 0.8 } }, ended: false,
    });
    const a = await r.next((m) => m.topic === outAlertsTopic("mall"));
    expect(JSON.parse(a.payload)).toMatchObject({ type: "capacity", space: "hall", name: "Great hall", state: "cleared", count: 4 });
    // the old ones were read at start (the last of their subjects) and left out: not published to anyone
    expect(await metricValue(resultsMetrics, "footfall_broker_results_skipped_total", { reason: "past" })).toBe(2);
    expect(await metricValue(resultsMetrics, "footfall_broker_results_published_total", { kind: "person" })).toBe(1);
    expect(await metricValue(resultsMetrics, "footfall_broker_results_published_total", { kind: "alert" })).toBe(1);
    // the annex is not in the topology: nothing published for it
    expect(r.got.filter((m) => m.topic === outOccupancyTopic("mall", "annex"))).toEqual([]);
  });

  it("follows the topology: a space added gets the count it already had, a renamed one is published again, a deleted site is emptied", async () => {
    const r = await reader(b.url, key, [outFilter("mall")]);
    clients.push(r.c);
    await r.next((m) => m.topic === outStatusTopic("mall"));
    const from = r.got.length;
    await topo.put("mall", JSON.stringify(topology("mall", [{ id: "hall", name: "Hall", capacity: 4 }, { id: "annex", name: "Annex" }])));
    const annex = await r.next((m) => m.topic === outOccupancyTopic("mall", "annex"), from);
    expect(JSON.parse(annex.payload)).toMatchObject({ name: "Annex", count: 2, capacity: null });
    expect(JSON.parse((await r.next((m) => m.topic === outOccupancyTopic("mall", "hall"), from)).payload)).toMatchObject({ name: "Hall", count: 5 });

    await topo.delete("mall");
    for (const t of [outOccupancyTopic("mall", "hall"), outOccupancyTopic("mall", "annex"), outSiteTopic("mall"), outStatusTopic("mall")]) {
      expect((await r.next((m) => m.topic === t && m.payload === "", from)).payload).toBe("");
    }
    const later = await reader(b.url, key, [outFilter("mall"), outStatusTopic("mall")]);
    clients.push(later.c);
    // nothing retained any more: the first message this reader gets is the site coming back
    await topo.put("mall", JSON.stringify(topology("mall", [{ id: "hall", name: "Hall", capacity: 4 }])));
    expect((await later.next(() => true)).topic).toBe(outStatusTopic("mall"));
  });

  it("says offline while NATS is away and online again after, and follows the events from where it was", async () => {
    const r = await reader(b.url, key, [outFilter("mall")]);
    clients.push(r.c);
    await r.next((m) => m.topic === outStatusTopic("mall") && m.payload === "online");
    const from = r.got.length;
    await s.restartNats();
    await r.next((m) => m.topic === outStatusTopic("mall") && m.payload === "offline", from);
    await r.next((m) => m.topic === outStatusTopic("mall") && m.payload === "online", from);
    await retryPublish(() => emit(occupancyEventSubject("mall", "hall"), { type: "occupancy.changed", site: "mall", space: "hall", count: 6, at: 9000 }));
    expect(JSON.parse((await r.next((m) => m.topic === outOccupancyTopic("mall", "hall") && m.payload.includes('"count":6'), from)).payload))
      .toMatchObject({ count: 6, at: new Date(9000).toISOString() });
  });
});

async function retryPublish(fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; ; i++) {
    try { await fn(); return; } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 200)); }
  }
}

describe("what a key may read", () => {
  const key = (sites: KeyView["sites"]): KeyView => ({ id: "0123456789ab", name: "k", role: "viewer", sites, created: 0 });

  it("subscribes to its sites' results and the discovery prefix, nothing else", () => {
    const mall = key(["mall"]);
    const ok = (k: KeyView, f: string) => "ok" in readerSubscribeAccess(k, f);
    expect(ok(mall, "footfall/v1/mall/out/#")).toBe(true);
    expect(ok(mall, "footfall/v1/mall/out/occupancy/+")).toBe(true);
    expect(ok(mall, "homeassistant/#")).toBe(true);
    expect(ok(mall, "homeassistant/sensor/footfall_mall/#")).toBe(true);
    expect(ok(mall, "homeassistant/sensor/footfall_depot/#")).toBe(false);
    expect(ok(mall, "footfall/v1/depot/out/#")).toBe(false);
    expect(ok(mall, "footfall/v1/+/out/#")).toBe(false);
    expect(ok(key("*"), "footfall/v1/+/out/#")).toBe(true);
    expect(ok(key("*"), "footfall/v1/#")).toBe(false);
    expect(ok(mall, "footfall/v1/mall/+/#")).toBe(false);
    expect(ok(mall, "$SYS/#")).toBe(false);
  });

  it("receives only its sites' results and discovery configs (site ids with _ included)", () => {
    const k = key(["a_b"]);
    expect(readerMayReceive(k, "footfall/v1/a_b/out/site")).toBe(true);
    expect(readerMayReceive(k, "homeassistant/sensor/footfall_a_b/c/config")).toBe(true);
    expect(readerMayReceive(k, "homeassistant/sensor/footfall_a/b_c/config")).toBe(false);
    expect(readerMayReceive(k, "footfall/v1/a_b/dpu/d1/cmd")).toBe(false);
    expect(readerMayReceive(k, "homeassistant/status")).toBe(false);
  });
});
