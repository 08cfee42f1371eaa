import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../infra/nats.ts";
import { guardWatch, WatchLag } from "../../infra/kv-watch-guard.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";

describe("WatchLag", () => {
  it("calls a watch stuck only when it is behind its bucket and has not moved for two checks in a row", () => {
    const lag = new WatchLag();
    expect(lag.observe(10, 10)).toBe(false); // caught up
    expect(lag.observe(12, 10)).toBe(false); // behind, first look
    expect(lag.observe(12, 11)).toBe(false); // behind, but moving
    expect(lag.observe(13, 11)).toBe(false); // behind, still: one check
    expect(lag.observe(13, 11)).toBe(true); // two checks: watch again
    expect(lag.observe(13, 11)).toBe(false); // counted afresh after a restart
    expect(lag.observe(13, 11)).toBe(true);
    expect(lag.observe(13, 13)).toBe(false);
    expect(lag.observe(13, 13)).toBe(false); // caught up and quiet is not stuck
    expect(lag.observe(13, 13)).toBe(false);
  });
});

describe("guardWatch (real nats-server KV)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let kv: KV;
  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "kv-watch-guard-test");
    kv = await new Kvm(nc).create("guard_test");
  });
  afterAll(async () => {
    await nc?.close();
    await s?.stop();
  });

  it("hands a watch that stopped delivering to rewatch, and leaves one that keeps up alone", async () => {
    await kv.put("a", "1");
    let stuckRewatches = 0, liveRewatches = 0;
    let live = 0;
    const watch = await kv.watch();
    void (async () => { for await (const e of watch) live = e.revision; })();
    const stopStuck = guardWatch({ nc, bucket: "guard_test", delivered: () => 1, rewatch: () => { stuckRewatches++; }, everyMs: 100 });
    const stopLive = guardWatch({ nc, bucket: "guard_test", delivered: () => live, rewatch: () => { liveRewatches++; }, everyMs: 100 });
    try {
      for (let i = 0; i < 5; i++) await kv.put("b", String(i));
      await eventually("the stuck watch handed over", () => stuckRewatches > 0, 10_000, 50);
      await eventually("the live watch caught up", () => live === 6, 10_000, 50);
      await new Promise((r) => setTimeout(r, 500));
      expect(liveRewatches).toBe(0);
    } finally {
      stopStuck();
      stopLive();
      watch.stop();
    }
  });
});
