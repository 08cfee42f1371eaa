import { describe, expect, it } from "vitest";
import { CrossingEvent } from "../../contracts/crossing.ts";
import type { DeviceRecord } from "../../contracts/device.ts";
import { checkDeviceCrossings, readCrossings } from "../../broker/device-messages/crossing.ts";
import { readJson } from "../../broker/device-messages/payload.ts";
import { Semaphore } from "../../infra/semaphore.ts";
import { maySubscribe, publishAccess } from "../../broker/topic-access.ts";

const dpu7: DeviceRecord = { id: "dpu-7", kind: "dpu", site: "mall", doorway: "d2", secretHash: "scrypt$00$00" };
const ev = (id: string, doorway = "d2") => CrossingEvent.parse({ id, ts: Date.UTC(2026, 0, 1), doorway, delta: 1 });

describe("checkDeviceCrossings", () => {
  it("accepts a dpu's crossings at its own doorway", () => {
    expect(checkDeviceCrossings(dpu7, [ev("a"), ev("b")])).toBeUndefined();
  });
  it("names the doorway mismatch", () => {
    expect(checkDeviceCrossings(dpu7, [ev("a"), ev("b", "d5")])).toBe("device dpu-7 sits on doorway d2, not d5");
  });
  it("refuses non-dpus, dpus without a doorway, repeated ids and empty lists", () => {
    expect(checkDeviceCrossings({ ...dpu7, kind: "camera" }, [ev("a")])).toMatch(/is a camera, not a dpu/);
    const { doorway: _d, ...noDoor } = dpu7;
    expect(checkDeviceCrossings(noDoor, [ev("a")])).toBe("device dpu-7 sits on no doorway");
    expect(checkDeviceCrossings(dpu7, [ev("a"), ev("a")])).toMatch(/event id a appears more than once/);
    expect(checkDeviceCrossings(dpu7, [])).toBe("no crossing events");
  });
});

describe("payload reading", () => {
  it("checks the size before parsing and explains schema errors by field", () => {
    expect(readJson("x".repeat(300), 256)).toMatchObject({ ok: false, reason: "too_large" });
    expect(readJson("{", 256)).toMatchObject({ ok: false, reason: "invalid_json" });
    expect(readCrossings(JSON.stringify({ id: "a", ts: Date.UTC(2200, 0, 1), doorway: "d2", delta: 1 }), 1024))
      .toEqual({ ok: false, reason: "invalid_payload", detail: "ts: ts out of range (2000-01-01 .. 2100-01-01)" });
    expect(readCrossings(JSON.stringify({ events: [{ id: "a", ts: 1, doorway: "d2", delta: 0 }] }), 1024))
      .toMatchObject({ ok: false, reason: "invalid_payload", detail: expect.stringContaining("events.0.delta: delta must be 1 or -1") });
    expect(readCrossings(JSON.stringify({ id: "a", ts: "2026-01-01T00:00:00Z", doorway: "d2", delta: -1 }), 1024))
      .toEqual({ ok: true, value: [{ id: "a", ts: Date.UTC(2026, 0, 1), doorway: "d2", delta: -1 }] });
  });
});

describe("topic access", () => {
  it("allows publishing only under the device's own prefix, never to its command topic", () => {
    expect(publishAccess(dpu7, "footfall/v1/mall/dpu/dpu-7/crossing")).toEqual({ type: "crossing" });
    expect(publishAccess(dpu7, "footfall/v1/mall/dpu/dpu-7/status")).toEqual({ type: "status" });
    for (const t of ["footfall/v1/mall/dpu/dpu-8/crossing", "footfall/v1/mall/camera/dpu-7/crossing", "footfall/v1/mall/dpu/dpu-7/a/b",
      "footfall/v1/mall/dpu/dpu-7/", "footfall/v1/mall/dpu/dpu-7/cmd", "footfall/v1/mall/dpu/dpu-70/crossing", "$SYS/x"]) {
      expect(publishAccess(dpu7, t), t).toHaveProperty("refused");
    }
  });
  it("allows subscribing only to the device's command topic", () => {
    expect(maySubscribe(dpu7, "footfall/v1/mall/dpu/dpu-7/cmd")).toBe(true);
    expect(maySubscribe(dpu7, "footfall/v1/mall/dpu/+/cmd")).toBe(false);
    expect(maySubscribe(dpu7, "#")).toBe(false);
  });
});

describe("Semaphore", () => {
  it("never runs more than its limit at once and serves waiters in order", async () => {
    const limit = new Semaphore(3);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => limit.run(async () => {
      active++;
      peak = Math.max(peak, active);
      order.push(i);
      await new Promise((r) => setImmediate(r));
      active--;
    })));
    expect(peak).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(limit.inFlight).toBe(0);
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
