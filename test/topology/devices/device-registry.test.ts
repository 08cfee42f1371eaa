import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../../infra/nats.ts";
import { hashSecret } from "../../../topology/devices/device-secret.ts";
import { DeviceRegistry } from "../../../topology/devices/device-registry.ts";
import { deviceTopic } from "../../../contracts/topics.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";
import { actorMessages, captureLog, connectDevice, device, startBrokerUnderTest, type BrokerUnderTest } from "../../broker/broker-fixture.ts";

describe("device registry (real NATS KV ff_devices)", () => {
  let s: TestServices;
  let b: BrokerUnderTest;
  const early = device("dpu-early", { doorway: "d1" });

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    b = await startBrokerUnderTest(s, { devices: [early] });
  });
  afterAll(async () => {
    await b?.stop();
    await s?.stop();
  });

  it("loads the bucket at open, ignores invalid values with a log line, and authenticates", async () => {
    await b.kv.put("junk", "{not json");
    await b.kv.put("half", JSON.stringify({ id: "half", kind: "dpu" }));
    await b.kv.put("other", JSON.stringify({ ...early[0], id: "someone-else" }));
    const nc = await connectNats(s.natsUrl, "registry-test");
    const logs = captureLog();
    const reg = await DeviceRegistry.open(nc, logs.log);
    try {
      expect(reg.get("dpu-early")).toEqual(early[0]);
      expect(reg.get("junk")).toBeUndefined();
      expect(reg.get("half")).toBeUndefined();
      expect(reg.get("other")).toBeUndefined();
      const ignored = logs.lines.filter((l) => l.msg === "device record ignored").map((l) => l.device);
      expect(ignored.sort()).toEqual(["half", "junk", "other"]);

      expect(await reg.authenticate("dpu-early", early[1])).toEqual(early[0]);
      expect(await reg.authenticate("dpu-early", early[1])).toEqual(early[0]); // from the cache
      expect(await reg.authenticate("dpu-early", "wrong")).toBeUndefined();
      expect(await reg.authenticate("nobody", early[1])).toBeUndefined();
      expect(await reg.authenticate("dpu-early", "")).toBeUndefined();
      // a burst of concurrent logins for one device all succeed
      const burst = await Promise.all(Array.from({ length: 20 }, () => reg.authenticate("dpu-early", early[1])));
      expect(burst.every((d) => d?.id === "dpu-early")).toBe(true);

      // a new secret invalidates the cached verification of the old one
      await b.kv.put("dpu-early", JSON.stringify({ ...early[0], secretHash: await hashSecret("rotated") }));
      await eventually("rotated secret seen", () => reg.get("dpu-early")?.secretHash !== early[0].secretHash, 10_000, 50);
      expect(await reg.authenticate("dpu-early", early[1])).toBeUndefined();
      expect((await reg.authenticate("dpu-early", "rotated"))?.id).toBe("dpu-early");
      await b.kv.put("dpu-early", JSON.stringify(early[0]));
      await eventually("secret restored", () => reg.get("dpu-early")?.secretHash === early[0].secretHash, 10_000, 50);
    } finally {
      reg.close();
      await nc.close();
    }
  });

  it("lets a device added after the broker started connect and publish", async () => {
    const late = device("dpu-late", { doorway: "d9" });
    const refused = await connectDevice(b.url, "dpu-late", late[1]).then(() => undefined, (e: unknown) => e);
    expect((refused as { code?: number }).code).toBe(5);

    await b.kv.put("dpu-late", JSON.stringify(late[0]));
    await eventually("registry sees dpu-late", () => b.registry.get("dpu-late") !== undefined, 10_000, 50);
    const c = await connectDevice(b.url, "dpu-late", late[1]);
    const before = await actorMessages(b.jsm);
    await c.publishAsync(deviceTopic("mall", "dpu", "dpu-late", "crossing"), JSON.stringify({ id: "1", ts: Date.UTC(2026, 0, 1), doorway: "d9", delta: 1 }), { qos: 1 });
    expect(await actorMessages(b.jsm)).toBe(before + 1);
    c.end(true);
  });

  it("looks a device it does not know up in KV before refusing it (the watch may lag behind)", async () => {
    const nc = await connectNats(s.natsUrl, "registry-lookup-test");
    const logs = captureLog();
    const reg = await DeviceRegistry.open(nc, logs.log);
    try {
      reg.close(); // the watch stops: from here on the registry only learns what it reads itself
      const fresh = device("dpu-fresh", { doorway: "d7" });
      await b.kv.put("dpu-fresh", JSON.stringify(fresh[0]));
      await new Promise((r) => setTimeout(r, 300));
      expect(reg.get("dpu-fresh")).toBeUndefined();
      expect(await reg.authenticate("dpu-fresh", "wrong secret")).toBeUndefined();
      expect(await reg.authenticate("dpu-fresh", fresh[1])).toEqual(fresh[0]);
      expect(reg.get("dpu-fresh")).toEqual(fresh[0]);
      expect(logs.lines.some((l) => l.msg === "device read from KV ahead of the watch" && l.device === "dpu-fresh")).toBe(true);
      expect(await reg.authenticate("dpu-nobody", fresh[1])).toBeUndefined(); // not in KV either
    } finally {
      reg.close();
      await nc.close();
      await b.kv.delete("dpu-fresh");
    }
  });

  it("disconnects a removed device and refuses it from then on", async () => {
    const gone = device("dpu-gone", { doorway: "d4" });
    await b.kv.put("dpu-gone", JSON.stringify(gone[0]));
    await eventually("registry sees dpu-gone", () => b.registry.get("dpu-gone") !== undefined, 10_000, 50);
    const c = await connectDevice(b.url, "dpu-gone", gone[1]);
    const closed = new Promise<void>((r) => c.once("close", () => r()));

    await b.kv.delete("dpu-gone");
    await closed; // the broker dropped the open connection
    expect(b.registry.get("dpu-gone")).toBeUndefined();
    const refused = await connectDevice(b.url, "dpu-gone", gone[1]).then(() => undefined, (e: unknown) => e);
    expect((refused as { code?: number }).code).toBe(5);
    expect(b.logs.lines.some((l) => l.msg === "disconnecting device" && l.device === "dpu-gone")).toBe(true);
    c.end(true);
  });
});
