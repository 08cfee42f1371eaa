import { describe, expect, it } from "vitest";
import type { KV } from "@nats-io/kv";
import { HostRegistry } from "../../../actors/runtime/host-registry.ts";
import { createLogger } from "../../../infra/log.ts";

const TTL = 3000;
const registry = () => new HostRegistry({} as KV, "me", TTL, createLogger("test", "fatal"));
const put = (key: string, revision: number) => ({ key, operation: "PUT" as const, revision });

describe("live actor hosts, as one host's watch of KV_HOSTS sees them", () => {
  it("counts itself once, and every other host whose announcement was seen within the TTL", () => {
    const r = registry();
    expect(r.liveHosts(0)).toBe(1);
    r.apply(put("me", 1), 0);
    r.apply(put("b", 2), 0);
    r.apply(put("c", 3), 1000);
    expect(r.liveHosts(1000)).toBe(3);
    // b is silent for a whole TTL (dead, or its announcements stopped reaching the bucket): gone
    expect(r.liveHosts(TTL - 1)).toBe(3);
    expect(r.liveHosts(TTL)).toBe(2);
    // an announcement brings it back
    r.apply(put("b", 4), TTL + 10);
    expect(r.liveHosts(TTL + 10)).toBe(3);
  });

  it("drops a host that left (its key deleted or purged) at once", () => {
    const r = registry();
    r.apply(put("b", 1), 0);
    r.apply(put("c", 2), 0);
    r.apply({ key: "b", operation: "DEL", revision: 3 }, 10);
    r.apply({ key: "c", operation: "PURGE", revision: 4 }, 10);
    expect(r.liveHosts(20)).toBe(1);
  });
});
