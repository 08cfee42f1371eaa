import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../infra/nats.ts";
import { Kvm, type KV } from "@nats-io/kv";
import { provisionNats } from "../../infra/provision.ts";
import { KV_DEVICES, KV_TOPOLOGY } from "../../contracts/nats-layout.ts";
import { TopologyDoc, type TopologyDocIn } from "../../contracts/topology.ts";
import type { DeviceRecord } from "../../contracts/device.ts";
import { verifySecret } from "../../topology/devices/device-secret.ts";
import { TopologyStore } from "../../topology/topology-store.ts";
import { TopologyError } from "../../topology/topology-error.ts";
import { startTestServices, type TestServices } from "../support/services.ts";

const doc = (d: TopologyDocIn) => TopologyDoc.parse(d);
const shop: TopologyDocIn = {
  spaces: [{ id: "floor", name: "Shop floor" }, { id: "store", name: "Store room" }],
  doorways: [
    { id: "front", entering_to: "floor", exiting_to: "outside" },
    { id: "back", entering_to: "store", exiting_to: "floor" },
  ],
  devices: [
    { id: "dpu-front", kind: "dpu", doorway: "front", secret: "front-secret-1" },
    { id: "dpu-back", kind: "dpu", doorway: "back" },
  ],
};

async function refusal(p: Promise<unknown>): Promise<TopologyError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(TopologyError);
  return e as TopologyError;
}

describe("TopologyStore (real nats-server, KV ff_topology + ff_devices)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let store: TopologyStore;
  let devices: KV;
  let topologies: KV;
  const record = async (id: string) => {
    const e = await devices.get(id);
    return e && e.operation === "PUT" ? e.json<DeviceRecord>() : undefined;
  };

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "topology-store");
    await provisionNats(nc, { leaseTtlMs: 3000 });
    store = await TopologyStore.open(nc);
    devices = await new Kvm(nc).open(KV_DEVICES);
    topologies = await new Kvm(nc).open(KV_TOPOLOGY);
  });
  afterAll(async () => { await nc?.close(); await s?.stop(); });

  it("imports a site: generated secrets are returned once, only scrypt hashes are stored", async () => {
    const first = await store.put("shop", doc(shop));
    expect(Object.keys(first.generatedSecrets)).toEqual(["dpu-back"]);
    const generated = first.generatedSecrets["dpu-back"]!;
    expect(first.topology.devices).toEqual([{ id: "dpu-front", kind: "dpu", doorway: "front" }, { id: "dpu-back", kind: "dpu", doorway: "back" }]);

    const raw = (await topologies.get("shop"))!.string();
    expect(raw).not.toContain("front-secret-1");
    expect(raw).not.toContain(generated);
    expect(raw).not.toContain("secret");

    const front = await record("dpu-front");
    expect(front).toMatchObject({ id: "dpu-front", kind: "dpu", site: "shop", doorway: "front" });
    expect(front!.secretHash).not.toContain("front-secret-1");
    expect(await verifySecret("front-secret-1", front!.secretHash)).toBe(true);
    const back = await record("dpu-back");
    expect(await verifySecret(generated, back!.secretHash)).toBe(true);

    // re-import without secrets: existing devices keep their hashes and nothing is generated again
    const again = await store.put("shop", doc({ ...shop, devices: shop.devices!.map(({ secret: _s, ...d }) => d) }));
    expect(again.generatedSecrets).toEqual({});
    expect((await record("dpu-front"))!.secretHash).toBe(front!.secretHash);
    expect((await record("dpu-back"))!.secretHash).toBe(back!.secretHash);

    expect(await store.get("shop")).toEqual(again.topology);
    expect(await store.list()).toEqual(["shop"]);
  });

  it("rotates a secret given again, and deletes the records of devices removed from the site", async () => {
    await store.put("rot", doc({
      spaces: [{ id: "a", name: "A" }],
      doorways: [{ id: "d1", entering_to: "a", exiting_to: "outside" }, { id: "d2", entering_to: "outside", exiting_to: "a" }],
      devices: [{ id: "rot-1", kind: "dpu", doorway: "d1", secret: "old-secret-1" }, { id: "rot-2", kind: "dpu", doorway: "d2" }],
    }));
    await store.put("rot", doc({
      spaces: [{ id: "a", name: "A" }],
      doorways: [{ id: "d1", entering_to: "a", exiting_to: "outside" }],
      devices: [{ id: "rot-1", kind: "dpu", doorway: "d1", secret: "new-secret-1" }],
    }));
    const r1 = await record("rot-1");
    expect(await verifySecret("new-secret-1", r1!.secretHash)).toBe(true);
    expect(await verifySecret("old-secret-1", r1!.secretHash)).toBe(false);
    expect(await record("rot-2")).toBeUndefined();
  });

  it("refuses an invalid topology with every error and writes nothing", async () => {
    const e = await refusal(store.put("bad", doc({
      spaces: [{ id: "outside", name: "x" }],
      doorways: [{ id: "d", entering_to: "nowhere", exiting_to: "outside" }],
      devices: [{ id: "bad-dpu", kind: "dpu" }],
    })));
    expect(e.code).toBe("invalid");
    expect(e.errors).toHaveLength(3);
    expect(await store.get("bad")).toBeUndefined();
    expect(await record("bad-dpu")).toBeUndefined();
  });

  it("refuses a device that belongs to another site", async () => {
    const e = await refusal(store.put("annex", doc({
      spaces: [{ id: "hall", name: "Hall" }],
      doorways: [{ id: "gate", entering_to: "hall", exiting_to: "outside" }],
      devices: [{ id: "dpu-front", kind: "dpu", doorway: "gate" }],
    })));
    expect(e.errors).toEqual(['device "dpu-front" belongs to site "shop"']);
    expect((await record("dpu-front"))!.site).toBe("shop");
  });

  it("edits one entity at a time: create, replace, delete; a space in use is 'in_use'", async () => {
    const sp = await store.upsertSpace("office", { id: "desk", name: "Desks" });
    expect(sp.created).toBe(true);
    expect(sp.previous).toBeUndefined();
    expect((await store.upsertSpace("office", { id: "desk", name: "Desk area", capacity: 40 })).created).toBe(false);
    const dw = await store.upsertDoorway("office", { id: "door", entering_to: "desk", exiting_to: "outside" });
    expect(dw.created).toBe(true);
    const dev = await store.upsertDevice("office", { id: "dpu-office", kind: "dpu", doorway: "door" });
    expect(dev.created).toBe(true);
    expect(Object.keys(dev.generatedSecrets)).toEqual(["dpu-office"]);
    expect(await verifySecret(dev.generatedSecrets["dpu-office"]!, (await record("dpu-office"))!.secretHash)).toBe(true);

    const moved = await store.upsertDevice("office", { id: "dpu-office", kind: "dpu", doorway: "door" });
    expect(moved.created).toBe(false);
    expect(moved.generatedSecrets).toEqual({});

    const t = (await store.get("office"))!;
    expect(t.spaces).toEqual([{ id: "desk", name: "Desk area", capacity: 40 }]);
    expect(t.doorways).toEqual([{ id: "door", entering_to: "desk", exiting_to: "outside" }]);

    expect((await refusal(store.deleteSpace("office", "desk"))).code).toBe("in_use");
    expect((await refusal(store.deleteDoorway("office", "door"))).code).toBe("in_use");
    expect((await refusal(store.deleteSpace("office", "kitchen"))).code).toBe("not_found");
    expect((await refusal(store.deleteSpace("nosuchsite", "desk"))).code).toBe("not_found");
    expect((await refusal(store.upsertDoorway("office", { id: "loop", entering_to: "desk", exiting_to: "desk" }))).code).toBe("invalid");

    await store.deleteDevice("office", "dpu-office");
    expect(await record("dpu-office")).toBeUndefined();
    await store.deleteDoorway("office", "door");
    const after = await store.deleteSpace("office", "desk");
    expect(after.topology).toMatchObject({ spaces: [], doorways: [], devices: [] });
  });

  it("keeps a site's integrations through per-entity edits; a whole document without them switches them off", async () => {
    const withHa = await store.put("venue", doc({ spaces: [{ id: "hall", name: "Hall" }], doorways: [], integrations: { homeAssistant: true } }));
    expect(withHa.topology.integrations).toEqual({ homeAssistant: true });
    await store.upsertSpace("venue", { id: "bar", name: "Bar" });
    expect((await store.get("venue"))!.integrations).toEqual({ homeAssistant: true });
    await store.put("venue", doc({ spaces: [{ id: "hall", name: "Hall" }], doorways: [] }));
    expect((await store.get("venue"))!.integrations).toBeUndefined();
    expect(TopologyDoc.safeParse({ spaces: [], doorways: [], integrations: { homeAssistant: "yes" } }).success).toBe(false);
    expect(TopologyDoc.safeParse({ spaces: [], doorways: [], integrations: { grafana: true } }).success).toBe(false);
  });

  it("concurrent per-entity edits of one site all land (revision check and retry)", async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.upsertSpace("busy", { id: `room-${i}`, name: `Room ${i}` })));
    const t = (await store.get("busy"))!;
    expect(t.spaces.map((x) => x.id).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `room-${i}`));
  });
});
