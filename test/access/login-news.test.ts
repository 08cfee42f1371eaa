import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { LoginThrottle } from "../../access/login-throttle.ts";
import { loginNewsSubject } from "../../contracts/login-news.ts";
import { createLogger } from "../../infra/log.ts";
import { connectNats } from "../../infra/nats.ts";
import { startTestServices, type TestServices } from "../support/services.ts";
import { eventually } from "../support/retry.ts";

const CFG = { freeFailures: 1, delayMs: 100, maxDelayMs: 1000, banAfter: 4, banMs: 60_000 };
const log = createLogger("test", "fatal");

/** Two API processes' HTTP login throttles sharing over a real nats-server. */
describe("LoginThrottle.share (real nats-server)", () => {
  let s: TestServices;
  const conns: NatsConnection[] = [];
  const stops: Array<() => void> = [];

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
  });
  afterAll(async () => {
    for (const stop of stops) stop();
    for (const nc of conns) await nc.close();
    await s?.stop();
  });

  async function process(name: string) {
    const nc = await connectNats(s.natsUrl, name);
    conns.push(nc);
    const registry = new Registry();
    const throttle = new LoginThrottle(CFG, "http", registry, log);
    stops.push(throttle.share(nc));
    const heard = async (outcome: string) => (await registry.getSingleMetric("footfall_auth_shared_total")?.get())?.values
      .filter((v) => v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0) ?? 0;
    return { nc, throttle, heard };
  }

  it("counts the other's failures, forgets on the other's success, ignores malformed news", async () => {
    const one = await process("api-1"), two = await process("api-2");
    const guesser = { address: "203.0.113.9", id: "key-x" };

    // two failures at api-1: api-2 delays the address's next attempt as api-1 does
    one.throttle.failed(guesser);
    one.throttle.failed(guesser);
    await eventually("api-2 heard both", async () => await two.heard("failed") === 2, 5_000, 10);
    expect(await one.heard("failed")).toBe(0); // not its own news
    expect(two.throttle.admit(guesser)).toEqual({ kind: "check", delayMs: 100, scope: "address" });

    // two more at api-2: the fourth in all bans the address at api-1 too
    two.throttle.failed(guesser);
    two.throttle.failed(guesser);
    await eventually("api-1 heard both", async () => await one.heard("failed") === 2, 5_000, 10);
    expect(one.throttle.admit(guesser)).toMatchObject({ kind: "banned", scope: "address" });

    // a success at api-2 for another address with the attacked id resets the id's count at api-1
    const owner = { address: "198.51.100.7", id: "key-x" };
    expect(one.throttle.failed(owner)).toBeGreaterThan(0); // the id's answers are delayed after its failures
    await eventually("api-2 heard it", async () => await two.heard("failed") === 3, 5_000, 10);
    two.throttle.succeeded(owner);
    await eventually("api-1 heard the success", async () => await one.heard("succeeded") === 1, 5_000, 10);
    expect(one.throttle.failed({ address: "192.0.2.1", id: "key-x" })).toBe(0);

    // malformed news changes nothing
    one.nc.publish(loginNewsSubject("http"), "{not json");
    one.nc.publish(loginNewsSubject("http"), JSON.stringify({ from: "x", outcome: "failed", address: 7 }));
    one.nc.publish(loginNewsSubject("http"), JSON.stringify({ from: "x", outcome: "failed", address: "192.0.2.50" }));
    await eventually("the valid one arrived", async () => await two.heard("failed") === 5, 5_000, 10);
    expect(await two.heard("failed")).toBe(5); // 3 before, the api-1 failure for 192.0.2.1 and the valid news
  });
});
