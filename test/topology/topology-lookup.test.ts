import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KV_TOPOLOGY } from "../../contracts/nats-layout.ts";
import type { StoredTopology } from "../../contracts/topology.ts";
import { KvTopologyLookup, StaticTopologyLookup } from "../../topology/topology-lookup.ts";
import { REFRESH_EVERY_MS } from "../../topology/topology-watch.ts";
import { connectNats } from "../../infra/nats.ts";
import { provisionNats } from "../../infra/provision.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually, retry } from "../support/retry.ts";

const stored = (site: string, doorways: StoredTopology["doorways"]): StoredTopology => ({
  site, spaces: [{ id: "a", name: "A" }, { id: "b", name: "B" }], doorways, devices: [], updatedAt: new Date().toISOString(),
});

let services: TestServices;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  services = await startTestServices({ influx: false });
  nc = await connectNats(services.natsUrl, "topology-lookup-test");
  await provisionNats(nc, { leaseTtlMs: 5000 });
  kv = await new Kvm(nc).open(KV_TOPOLOGY);
});
afterAll(async () => {
  await nc?.close();
  await services?.stop();
});

describe("KvTopologyLookup", () => {
  it("loads every site before open() returns and follows puts, bad values and deletes", async () => {
    await kv.put("s1", JSON.stringify(stored("s1", [{ id: "d1", entering_to: "a", exiting_to: "outside" }])));
    const lookup = await KvTopologyLookup.open(nc);
    try {
      expect(lookup.doorway("s1", "d1")).toEqual({ entering_to: "a", exiting_to: "outside" });
      expect(lookup.doorway("s1", "nope")).toBeUndefined();
      expect(lookup.doorway("s2", "d1")).toBeUndefined();

      await kv.put("s1", JSON.stringify(stored("s1", [{ id: "d1", entering_to: "b", exiting_to: "a" }, { id: "d2", entering_to: "a", exiting_to: "outside" }])));
      await eventually("the updated topology", () => lookup.doorway("s1", "d1")?.entering_to === "b");
      expect(lookup.doorway("s1", "d2")).toEqual({ entering_to: "a", exiting_to: "outside" });

      // a bad value is ignored (the site keeps its topology); s2 afterwards shows the watch got past it
      await kv.put("s1", "{not json");
      await kv.put("s1", JSON.stringify({ site: "s1", doorways: [{ id: "bad id!", entering_to: "a", exiting_to: "b" }] }));
      await kv.put("s2", JSON.stringify(stored("s2", [{ id: "x", entering_to: "a", exiting_to: "b" }])));
      await eventually("site s2", () => lookup.doorway("s2", "x") !== undefined);
      expect(lookup.doorway("s1", "d1")).toEqual({ entering_to: "b", exiting_to: "a" });

      await kv.delete("s2");
      await eventually("s2 removed", () => lookup.doorway("s2", "x") === undefined);
      expect(lookup.siteIds()).toEqual(["s1"]);
    } finally {
      lookup.close();
    }
  });

  it("keeps following the bucket after nats-server is killed and restarted", async () => {
    await kv.put("s3", JSON.stringify(stored("s3", [{ id: "d", entering_to: "a", exiting_to: "b" }])));
    const lookup = await KvTopologyLookup.open(nc);
    try {
      expect(lookup.doorway("s3", "d")?.entering_to).toBe("a");
      await services.restartNats();
      await retry(() => kv.put("s3", JSON.stringify(stored("s3", [{ id: "d", entering_to: "b", exiting_to: "a" }]))));
      await eventually("the topology written after the restart", () => lookup.doorway("s3", "d")?.entering_to === "b");
    } finally {
      lookup.close();
    }
  });

  it("refresh(site) reads a site from KV directly, ahead of a watch that lags, at most once per interval", async () => {
    const lookup = await KvTopologyLookup.open(nc);
    try {
      lookup.close(); // the watch stops: from here on the lookup only learns what refresh() reads
      await kv.put("s9", JSON.stringify(stored("s9", [{ id: "d9", entering_to: "a", exiting_to: "outside" }])));
      await new Promise((r) => setTimeout(r, 300));
      expect(lookup.doorway("s9", "d9")).toBeUndefined();
      await Promise.all([lookup.refresh("s9"), lookup.refresh("s9")]);
      expect(lookup.doorway("s9", "d9")).toEqual({ entering_to: "a", exiting_to: "outside" });

      // read again only once REFRESH_EVERY_MS has passed since the last read
      await kv.put("s9", JSON.stringify(stored("s9", [{ id: "d9", entering_to: "b", exiting_to: "a" }])));
      await lookup.refresh("s9");
      expect(lookup.doorway("s9", "d9")).toEqual({ entering_to: "a", exiting_to: "outside" });
      await new Promise((r) => setTimeout(r, REFRESH_EVERY_MS));
      await lookup.refresh("s9");
      expect(lookup.doorway("s9", "d9")).toEqual({ entering_to: "b", exiting_to: "a" });
      await lookup.refresh("no-such-site"); // nothing stored: nothing known, no error
      expect(lookup.doorway("no-such-site", "d9")).toBeUndefined();
    } finally {
      lookup.close();
      await kv.delete("s9");
    }
  });

  it("StaticTopologyLookup answers from a fixed list", () => {
    const lookup = new StaticTopologyLookup([stored("s", [{ id: "d", entering_to: "a", exiting_to: "b" }])]);
    expect(lookup.doorway("s", "d")).toEqual({ entering_to: "a", exiting_to: "b" });
    expect(lookup.doorway("s", "e")).toBeUndefined();
  });
});
