import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../infra/nats.ts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { influxClient, provisionInflux, provisionNats } from "../../infra/provision.ts";
import { STREAM_ACTORS, KV_LEASES } from "../../contracts/nats-layout.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { retry } from "../support/retry.ts";

describe("services and provisioning (real nats-server and influxd)", () => {
  let s: TestServices;
  beforeAll(async () => { s = await startTestServices(); });
  afterAll(async () => { await s?.stop(); });

  it("provisions streams and buckets idempotently, and they survive a nats-server restart", async () => {
    const nc = await connectNats(s.natsUrl, "services");
    await provisionNats(nc, { leaseTtlMs: 3000 });
    await provisionNats(nc, { leaseTtlMs: 3000 });
    const js = jetstream(nc);
    const a = await js.publish("act.0.test.x", "hello", { msgID: "m1" });
    const b = await js.publish("act.0.test.x", "hello", { msgID: "m1" });
    expect(b.duplicate).toBe(true);
    expect(b.seq).toBe(a.seq);
    await s.restartNats();
    const info = await retry(async () => (await jetstreamManager(nc, { timeout: 2000 })).streams.info(STREAM_ACTORS));
    expect(info.state.messages).toBe(1);
    const kv = await new Kvm(nc).open(KV_LEASES);
    expect((await kv.status()).ttl).toBe(3000);
    await nc.close();
  });

  it("provisions the influx database with raw and rollup retention policies and continuous queries", async () => {
    const influx = influxClient(s.influxUrl, "footfall_t");
    const cfg = { influxDb: "footfall_t", rawRetention: "30d", rollupRetention: "INF" };
    await provisionInflux(influx, cfg);
    await provisionInflux(influx, cfg);
    const rps = await influx.showRetentionPolicies("footfall_t");
    expect(rps.find((r) => r.name === "raw")).toMatchObject({ default: true, duration: "720h0m0s" });
    expect(rps.find((r) => r.name === "rollup")).toBeTruthy();
    const cqs = await influx.showContinousQueries("footfall_t");
    expect(cqs.map((c) => c.name).sort()).toEqual(["cq_crossings_1h", "cq_occupancy_1h", "cq_site_occupancy_1h"]);
  });
});
