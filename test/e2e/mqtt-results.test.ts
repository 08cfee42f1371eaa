/**
 * Results back over MQTT, end to end: the real broker, nats-server, influxd and actor host (the
 * test stack), DPUs publishing with Debian's mosquitto_pub, integrators reading with Debian's
 * mosquitto_sub and an API key (username = key id, password = the key).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../infra/nats.ts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { CreatedKey } from "../../contracts/api-keys.ts";
import { IngestRate } from "../../contracts/events.ts";
import { HaSensorConfig, OutCapacityAlert, OutOccupancy, OutSiteOccupancy } from "../../contracts/mqtt-out.ts";
import { occupancyEventSubject, siteOccupancyEventSubject, STREAM_EVENTS } from "../../contracts/nats-layout.ts";
import {
  deviceTopic, haSensorConfigTopic, outAlertsTopic, outFilter, outOccupancyTopic, outSiteTopic, outStatusTopic,
} from "../../contracts/topics.ts";
import { KeyStore } from "../../access/key-store.ts";
import { runBroker, type RunningBroker } from "../../broker/main.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { freePort } from "../support/ports.ts";
import { eventually } from "../support/retry.ts";
import { mosquittoPub, mosquittoSub, type MosquittoSub, type SubLine } from "./mosquitto-clients.ts";

const SHOP_SPACES = [{ id: "floor", name: "Shop floor", capacity: 2 }, { id: "cafe", name: "Café" }];
const shopDoc = (o: { cafe?: boolean; homeAssistant?: boolean } = {}) => ({
  spaces: o.cafe === false ? [SHOP_SPACES[0]] : SHOP_SPACES,
  doorways: [
    { id: "front", entering_to: "floor", exiting_to: "outside" },
    ...(o.cafe === false ? [] : [{ id: "cafe-door", entering_to: "cafe", exiting_to: "floor" }]),
  ],
  devices: [
    { id: "dpu-front", kind: "dpu", doorway: "front", secret: "front-door-secret" },
    ...(o.cafe === false ? [] : [{ id: "dpu-cafe", kind: "dpu", doorway: "cafe-door", secret: "cafe-door-secret" }]),
  ],
  ...(o.homeAssistant === undefined ? {} : { integrations: { homeAssistant: o.homeAssistant } }),
});
const depotDoc = (homeAssistant?: boolean) => ({
  spaces: [{ id: "bay", name: "Loading bay" }],
  doorways: [{ id: "gate", entering_to: "bay", exiting_to: "outside" }],
  devices: [{ id: "dpu-gate", kind: "dpu", doorway: "gate", secret: "depot-gate-secret" }],
  ...(homeAssistant === undefined ? {} : { integrations: { homeAssistant } }),
});

const json = (l: SubLine) => JSON.parse(l.payload) as unknown;
const occupancyOf = (l: SubLine) => OutOccupancy.parse(json(l));
const siteOf = (l: SubLine) => OutSiteOccupancy.parse(json(l));

describe("results back over MQTT, read with Debian's mosquitto_sub", () => {
  let stack: TestStack;
  let nc: NatsConnection;
  let keys: KeyStore;
  let shopKey: CreatedKey;
  let depotKey: CreatedKey;
  const subs: MosquittoSub[] = [];
  const brokers: RunningBroker[] = [];
  const port = () => stack.cfg.mqttPort;
  const sub = (key: CreatedKey, topics: string[], p = port()) => {
    const s = mosquittoSub(p, key.id, key.key, topics);
    subs.push(s);
    return s;
  };
  /** crossings newly stored through the stack's broker, by site (what its ingest rate must add up to) */
  const stored = new Map<string, number>();
  const t0 = Date.now() - 10 * 60_000;
  let n = 0;
  async function cross(site: string, device: string, secret: string, doorway: string, delta: 1 | -1): Promise<void> {
    n++;
    await mosquittoPub(port(), device, secret, deviceTopic(site, "dpu", device, "crossing"),
      JSON.stringify({ id: `x-${n}`, ts: t0 + n * 1000, doorway, delta }), ["-i", device]);
    stored.set(site, (stored.get(site) ?? 0) + 1);
  }
  const put = async (site: string, doc: unknown) => {
    const r = await stack.admin("PUT", `/api/v1/sites/${site}/topology`, doc);
    expect(r.status, await r.clone().text()).toBe(200);
  };
  async function brokerMetric(name: string, labels: string, opsPort = stack.cfg.brokerOpsPort): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line ? Number(line.split(" ").at(-1)) : 0;
  }
  /** the last occupancy event of a space says `count` (the actors concluded it) */
  async function settled(space: string, count: number): Promise<void> {
    const jsm = await jetstreamManager(nc);
    await eventually(`${space} counted ${count}`, async () => {
      const m = await jsm.streams.getMessage(STREAM_EVENTS, { last_by_subj: occupancyEventSubject("shop", space) });
      return m?.json<{ count: number }>().count === count;
    }, 30_000);
  }

  /** the broker's retained message on `topic` says `count` (asked with a fresh mosquitto_sub each time) */
  async function retainedCount(topic: string, count: number): Promise<void> {
    await eventually(`${topic} retained with count ${count}`, async () => {
      const s = mosquittoSub(port(), shopKey.id, shopKey.key, [topic], ["--retained-only", "-C", "1", "-W", "2"]);
      await s.exited;
      const l = s.lines[0];
      return l !== undefined && l.retained && (JSON.parse(l.payload) as { count?: number }).count === count;
    }, 30_000);
  }

  beforeAll(async () => {
    stack = await startTestStack({ hosts: 1, overrides: { ingestWindowMs: 300 } });
    await put("shop", shopDoc({ homeAssistant: true }));
    await put("depot", depotDoc());
    nc = await connectNats(stack.cfg.natsUrl!, "mqtt-results");
    keys = await KeyStore.open(nc);
    shopKey = await keys.create({ role: "viewer", sites: ["shop"], name: "shop integrator" });
    depotKey = await keys.create({ role: "viewer", sites: ["depot"], name: "depot integrator" });
    // the broker follows the keys through KV: wait until it knows both
    for (const k of [shopKey, depotKey]) {
      await eventually(`the broker knows key ${k.id}`, async () => {
        const s = mosquittoSub(port(), k.id, k.key, [outFilter(k === shopKey ? "shop" : "depot")], ["-E"]);
        return (await s.exited).code === 0;
      }, 15_000);
    }
  });
  afterAll(async () => {
    await Promise.all(subs.map((s) => s.stop()));
    for (const b of brokers) await b.stop();
    keys?.close();
    await nc?.close();
    await stack?.stop();
  });

  it("a viewer key receives the retained counts on subscribe, then every change after a crossing", async () => {
    await cross("shop", "dpu-front", "front-door-secret", "front", 1);
    await settled("floor", 1);
    // the floor's and the site's events are separate messages: wait until the broker retains both
    await retainedCount(outOccupancyTopic("shop", "floor"), 1);
    await retainedCount(outSiteTopic("shop"), 1);

    const s = sub(shopKey, [outFilter("shop")]);
    const floor = await s.waitFor((l) => l.topic === outOccupancyTopic("shop", "floor") && occupancyOf(l).count === 1, "floor 1");
    expect(floor.retained).toBe(true);
    expect(occupancyOf(floor)).toEqual({ site: "shop", space: "floor", name: "Shop floor", count: 1, capacity: 2, at: new Date(t0 + n * 1000).toISOString() });
    // a space nobody crossed into yet: 0, with no time
    const cafe = await s.waitFor((l) => l.topic === outOccupancyTopic("shop", "cafe"), "cafe");
    expect(cafe.retained).toBe(true);
    expect(occupancyOf(cafe)).toEqual({ site: "shop", space: "cafe", name: "Café", count: 0, capacity: null, at: null });
    const site = await s.waitFor((l) => l.topic === outSiteTopic("shop") && siteOf(l).count === 1, "site 1");
    expect(site.retained).toBe(true);
    const status = await s.waitFor((l) => l.topic === outStatusTopic("shop"), "status");
    expect(status).toEqual({ retained: true, topic: outStatusTopic("shop"), payload: "online" });

    const from = s.lines.length;
    await cross("shop", "dpu-front", "front-door-secret", "front", 1);
    const two = await s.waitFor((l) => l.topic === outOccupancyTopic("shop", "floor"), "floor after a crossing", from);
    expect(occupancyOf(two)).toMatchObject({ count: 2, capacity: 2 });
    expect(two.retained).toBe(false);
    expect(siteOf(await s.waitFor((l) => l.topic === outSiteTopic("shop"), "site after a crossing", from)).count).toBe(2);

    // a third person: above capacity, an alert
    await cross("shop", "dpu-front", "front-door-secret", "front", 1);
    const alert = await s.waitFor((l) => l.topic === outAlertsTopic("shop"), "capacity alert", from);
    expect(OutCapacityAlert.parse(json(alert))).toMatchObject({ type: "capacity", space: "floor", name: "Shop floor", state: "over", count: 3, capacity: 2 });
    await s.waitFor((l) => l.topic === outOccupancyTopic("shop", "floor") && occupancyOf(l).count === 3, "floor 3", from);
    await s.waitFor((l) => l.topic === outSiteTopic("shop") && siteOf(l).count === 3, "site 3", from);
    // nothing of another site arrives
    expect(s.lines.filter((l) => !l.topic.startsWith("footfall/v1/shop/out/"))).toEqual([]);
  });

  it("refuses another site's key, a wildcard over sites, a device's credentials and non-result topics (SUBACK failure)", async () => {
    const before = await brokerMetric("footfall_broker_refused_total", 'reason="subscribe_denied"');
    const refused = async (user: string, password: string, topic: string) => {
      const s = mosquittoSub(port(), user, password, [topic]);
      const end = await s.exited;
      expect(end.stderr, `${user} on ${topic}`).toMatch(/All subscription requests were denied/);
      expect(s.lines).toEqual([]);
    };
    await refused(depotKey.id, depotKey.key, outFilter("shop"));
    await refused(depotKey.id, depotKey.key, "footfall/v1/+/out/#");
    await refused(shopKey.id, shopKey.key, "footfall/v1/shop/#");
    await refused(shopKey.id, shopKey.key, "#");
    await refused(shopKey.id, shopKey.key, deviceTopic("shop", "dpu", "dpu-front", "cmd"));
    await refused("dpu-front", "front-door-secret", outFilter("shop"));
    await refused("dpu-front", "front-door-secret", outOccupancyTopic("shop", "floor"));
    await refused("dpu-front", "front-door-secret", "homeassistant/#");
    await refused("dpu-front", "front-door-secret", deviceTopic("shop", "dpu", "dpu-cafe", "cmd"));
    expect(await brokerMetric("footfall_broker_refused_total", 'reason="subscribe_denied"')).toBe(before + 9);
  });

  it("refuses a wrong key at log-in (CONNACK not authorised)", async () => {
    const before = await brokerMetric("footfall_broker_refused_total", 'reason="bad_credentials"');
    const wrongSecret = `ffk_${shopKey.id}_${"A".repeat(24)}`;
    for (const [user, password] of [[shopKey.id, wrongSecret], [depotKey.id, shopKey.key], [shopKey.id, "not-a-key"]] as const) {
      const end = await mosquittoSub(port(), user, password, [outFilter("shop")]).exited;
      expect(end.code).not.toBe(0);
      expect(end.stderr).toMatch(/Connection Refused: not authori[sz]ed/);
    }
    expect(await brokerMetric("footfall_broker_refused_total", 'reason="bad_credentials"')).toBe(before + 3);
  });

  it("a key publishes nothing: not over a retained result, not as a device", async () => {
    const before = await brokerMetric("footfall_broker_refused_total", 'reason="read_only"');
    await mosquittoPub(port(), shopKey.id, shopKey.key, outSiteTopic("shop"), JSON.stringify({ site: "shop", count: 99, at: null }), ["-r"]);
    await mosquittoPub(port(), shopKey.id, shopKey.key, outOccupancyTopic("shop", "floor"), "", ["-r"]);
    await mosquittoPub(port(), shopKey.id, shopKey.key, deviceTopic("shop", "dpu", "dpu-front", "crossing"),
      JSON.stringify({ id: "from-a-key", ts: t0, doorway: "front", delta: 1 }));
    expect(await brokerMetric("footfall_broker_refused_total", 'reason="read_only"')).toBe(before + 3);
    const s = sub(shopKey, [outSiteTopic("shop"), outOccupancyTopic("shop", "floor")]);
    expect(siteOf(await s.waitFor((l) => l.topic === outSiteTopic("shop"), "retained site")).count).toBe(3);
    expect(occupancyOf(await s.waitFor((l) => l.topic === outOccupancyTopic("shop", "floor"), "retained floor")).count).toBe(3);
  });

  it("Home Assistant discovery: configs of the key's sites only, when switched on; removed spaces and switching off empty them", async () => {
    const shopHa = sub(shopKey, ["homeassistant/#"]);
    const floorCfg = await shopHa.waitFor((l) => l.topic === haSensorConfigTopic("shop", "floor"), "floor config");
    expect(floorCfg.retained).toBe(true);
    expect(HaSensorConfig.parse(json(floorCfg))).toMatchObject({
      name: "Shop floor", unique_id: "footfall.shop.floor", state_topic: outOccupancyTopic("shop", "floor"),
      value_template: "{{ value_json.count }}", unit_of_measurement: "people", availability_topic: outStatusTopic("shop"),
      device: { identifiers: ["footfall_shop"] },
    });
    expect(HaSensorConfig.parse(json(await shopHa.waitFor((l) => l.topic === haSensorConfigTopic("shop", "cafe"), "cafe config"))).name).toBe("Café");

    // the depot has discovery off: its key's first discovery message is the one switching it on
    const depotHa = sub(depotKey, ["homeassistant/#"]);
    const depotOut = sub(depotKey, [outFilter("depot")]);
    await depotOut.waitFor((l) => l.topic === outStatusTopic("depot"), "depot status"); // both subscriptions are in place
    await put("depot", depotDoc(true));
    const first = await depotHa.waitFor(() => true, "depot's first discovery message");
    expect(first.topic).toBe(haSensorConfigTopic("depot", "bay"));
    expect(HaSensorConfig.parse(json(first)).name).toBe("Loading bay");
    // ...which the shop's key does not get: the shop's next config (after a rename) comes without it
    const fromShop = shopHa.lines.length;
    await put("shop", { ...shopDoc({ homeAssistant: true }), spaces: [{ ...SHOP_SPACES[0], name: "Sales floor" }, SHOP_SPACES[1]] });
    const renamed = await shopHa.waitFor((l) => l.topic === haSensorConfigTopic("shop", "floor"), "renamed floor config", fromShop);
    expect(HaSensorConfig.parse(json(renamed)).name).toBe("Sales floor");
    expect(shopHa.lines.filter((l) => !l.topic.includes("footfall_shop"))).toEqual([]);

    await put("depot", depotDoc(false));
    const off = await depotHa.waitFor((l) => l.payload === "", "depot config emptied");
    expect(off.topic).toBe(haSensorConfigTopic("depot", "bay"));

    // the cafe leaves the shop: its sensor config and its retained count are emptied
    const outShop = sub(shopKey, [outFilter("shop")]);
    await outShop.waitFor((l) => l.topic === outOccupancyTopic("shop", "cafe"), "retained cafe");
    const fromOut = outShop.lines.length;
    const fromHa = shopHa.lines.length;
    await put("shop", shopDoc({ homeAssistant: true, cafe: false }));
    expect((await shopHa.waitFor((l) => l.topic === haSensorConfigTopic("shop", "cafe"), "cafe config removed", fromHa)).payload).toBe("");
    expect((await outShop.waitFor((l) => l.topic === outOccupancyTopic("shop", "cafe"), "cafe count removed", fromOut)).payload).toBe("");
    const later = sub(shopKey, [outFilter("shop")]);
    await later.waitFor((l) => l.topic === outStatusTopic("shop"), "status");
    expect(later.lines.filter((l) => l.topic === outOccupancyTopic("shop", "cafe"))).toEqual([]);
  });

  it("a freshly started broker has the right retained values at once, from the events or (older than they are kept) from history", async () => {
    const floorNow = await (async () => {
      const s = sub(shopKey, [outOccupancyTopic("shop", "floor")]);
      return occupancyOf(await s.waitFor(() => true, "floor"));
    })();
    expect(floorNow.count).toBe(3);
    const mqttPort = await freePort();
    const start = async () => {
      const b = await runBroker({ ...stack.cfg, mqttPort, brokerOpsPort: await freePort() });
      brokers.push(b);
      return b;
    };
    const expectRetained = async (what: string) => {
      const s = sub(shopKey, [outFilter("shop")], mqttPort);
      const floor = await s.waitFor((l) => l.topic === outOccupancyTopic("shop", "floor"), `${what}: floor`);
      expect(floor.retained).toBe(true);
      expect(occupancyOf(floor)).toEqual(floorNow);
      expect(siteOf(await s.waitFor((l) => l.topic === outSiteTopic("shop"), `${what}: site`))).toMatchObject({ count: 3 });
      expect((await s.waitFor((l) => l.topic === outStatusTopic("shop"), `${what}: status`)).payload).toBe("online");
      return s;
    };
    const first = await start();
    await expectRetained("new broker");

    // the events are gone (as after a day): the new broker takes the counts from InfluxDB
    await eventually("InfluxDB holds the floor's count", async () => {
      const r = await stack.admin("GET", "/api/v1/sites/shop/spaces/floor/count");
      return r.ok && ((await r.json()) as { count: number }).count === 3;
    });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.purge(STREAM_EVENTS, { filter: occupancyEventSubject("shop", "floor") });
    await jsm.streams.purge(STREAM_EVENTS, { filter: siteOccupancyEventSubject("shop") });
    const watching = await expectRetained("before the restart");
    await first.stop();
    // a clean stop tells its readers the results are no longer current
    await watching.waitFor((l) => l.topic === outStatusTopic("shop") && l.payload === "offline", "offline at stop");
    await start();
    await expectRetained("restarted broker, events purged");
  });

  it("each broker publishes its ingest rate: messages newly stored per site and type", async () => {
    await cross("depot", "dpu-gate", "depot-gate-secret", "gate", 1);
    // a re-send is a duplicate, not a new message
    await mosquittoPub(port(), "dpu-gate", "depot-gate-secret", deviceTopic("depot", "dpu", "dpu-gate", "crossing"),
      JSON.stringify({ id: `x-${n}`, ts: t0 + n * 1000, doorway: "gate", delta: 1 }), ["-i", "dpu-gate"]);
    const js = jetstream(nc);
    const sums = async (site: string) => {
      const c = await js.consumers.get(STREAM_EVENTS, { filter_subjects: `evt.ingest.${site}.>` });
      const total: Record<string, number> = {};
      const brokersSeen = new Set<string>();
      for (;;) {
        const m = await c.next({ expires: 1000 });
        if (!m) break;
        const e = IngestRate.parse(m.json());
        expect(m.subject).toBe(`evt.ingest.${site}.${e.broker}`);
        expect(e.windowMs).toBeGreaterThan(0);
        brokersSeen.add(e.broker);
        for (const [type, k] of Object.entries(e.messages)) total[type] = (total[type] ?? 0) + k;
        if (m.info.pending === 0) break;
      }
      return { total, brokers: brokersSeen.size };
    };
    await eventually("ingest rates add up to the crossings stored", async () => {
      const [shop, depot] = [await sums("shop"), await sums("depot")];
      return shop.total.crossing === stored.get("shop") && depot.total.crossing === stored.get("depot");
    }, 15_000);
    const shop = await sums("shop");
    expect(shop).toEqual({ total: { crossing: stored.get("shop") }, brokers: 1 });
  });

  it("a revoked key's connection is closed (and it cannot log in again)", async () => {
    const k = await keys.create({ role: "viewer", sites: ["shop"], name: "short-lived" });
    let s!: MosquittoSub;
    await eventually("the broker knows the new key", async () => {
      s = mosquittoSub(port(), k.id, k.key, [outStatusTopic("shop")]);
      subs.push(s);
      await s.waitFor(() => true, "status", 0, 2000);
      return true;
    }, 15_000);
    await keys.revoke(k.id);
    const end = await s.exited;
    expect(end.code).not.toBe(0);
    expect(end.stderr).toMatch(/not authori[sz]ed/);
  });
});
