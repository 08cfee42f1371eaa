import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KV_LEASES, KV_SNAPSHOTS } from "../../../contracts/nats-layout.ts";
import { connectNats } from "../../../infra/nats.ts";
import { provisionNats } from "../../../infra/provision.ts";
import { Lease } from "../../../actors/runtime/lease.ts";
import { FencedError, VersionedKey } from "../../../actors/runtime/versioned-key.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { eventually } from "../../support/retry.ts";

const TTL = 1000;
const bytes = (s: string) => new TextEncoder().encode(s);

describe("leases and fenced keys (real nats-server)", () => {
  let s: TestServices;
  let nc: NatsConnection;
  let leases: KV;
  let snapshots: KV;

  beforeAll(async () => {
    s = await startTestServices({ influx: false });
    nc = await connectNats(s.natsUrl, "lease-test");
    await provisionNats(nc, { leaseTtlMs: TTL });
    leases = await new Kvm(nc).open(KV_LEASES);
    snapshots = await new Kvm(nc).open(KV_SNAPSHOTS);
  });
  afterAll(async () => { await nc?.close(); await s?.stop(); });

  it("one holder at a time; a lapsed lease goes to the next host and the old holder learns it lost", async () => {
    const a = await Lease.acquire(leases, 0, "host-a", TTL);
    expect(a).toBeDefined();
    expect(await Lease.acquire(leases, 0, "host-b", TTL)).toBeUndefined();
    expect(await a!.renew()).toBe("held");
    expect(a!.valid()).toBe(true);

    // host-a stops renewing: the bucket TTL removes its lease and host-b gets it
    let b: Lease | undefined;
    await eventually("host-b acquires the lapsed lease", async () => (b = await Lease.acquire(leases, 0, "host-b", TTL)) !== undefined, 10_000, 100);
    expect(a!.valid()).toBe(false);
    expect(await a!.renew()).toBe("lost");
    expect(await b!.renew()).toBe("held");

    // a clean release frees it at once; a stale holder's release leaves the new holder alone
    expect(await a!.release()).toBe(false);
    expect(await Lease.acquire(leases, 0, "host-c", TTL)).toBeUndefined();
    expect(await b!.release()).toBe(true);
    expect(await Lease.acquire(leases, 0, "host-c", TTL)).toBeDefined();
  });

  it("a host takes back its own lease (one it dropped, or an acquisition whose answer it never saw)", async () => {
    expect(await Lease.acquire(leases, 1, "host-a", TTL)).toBeDefined();
    expect(await Lease.acquire(leases, 1, "host-b", TTL)).toBeUndefined();
    const again = await Lease.acquire(leases, 1, "host-a", TTL);
    expect(again).toBeDefined();
    expect(await again!.renew()).toBe("held");
    expect(await Lease.acquire(leases, 1, "host-b", TTL)).toBeUndefined();
  });

  it("a writer holding a stale revision is fenced; its own landed value is adopted", async () => {
    const mine = new VersionedKey(snapshots, "p42", 0);
    await mine.write(bytes(JSON.stringify({ seq: 10 })));
    const rival = new VersionedKey(snapshots, "p42", mine.revision);
    await rival.write(bytes(JSON.stringify({ seq: 20 })));
    await expect(mine.write(bytes(JSON.stringify({ seq: 11 })))).rejects.toBeInstanceOf(FencedError);
    expect(JSON.parse(new TextDecoder().decode((await snapshots.get("p42"))!.value))).toEqual({ seq: 20 });

    // same value already there (our write landed, the ack was lost): adopt its revision and go on
    const lagging = new VersionedKey(snapshots, "p42", 0);
    await lagging.write(bytes(JSON.stringify({ seq: 20 })));
    await lagging.write(bytes(JSON.stringify({ seq: 30 })));
    expect(JSON.parse(new TextDecoder().decode((await snapshots.get("p42"))!.value))).toEqual({ seq: 30 });
  });
});
