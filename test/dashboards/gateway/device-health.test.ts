/**
 * The device-health bookkeeping of the live gateway, with InfluxDB's answer held back so a
 * `forget` lands while a read is in flight (the real queries run against influxd in
 * live-gateway.test.ts).
 */
import { describe, expect, it } from "vitest";
import type { InfluxDB } from "influx";
import { DeviceHealth } from "../../../dashboards/gateway/device-health.ts";
import type { StoredTopology } from "../../../contracts/topology.ts";

const topo = {
  site: "mall",
  spaces: [{ id: "lobby", name: "Lobby" }],
  doorways: [{ id: "front", entering_to: "lobby", exiting_to: "outside" }],
  devices: [{ id: "dpu-front", kind: "dpu", doorway: "front" }],
} as unknown as StoredTopology;

/** An InfluxDB whose crossing query answers only when `release` is called. */
function heldInflux(lastCrossing: number) {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const influx = {
    query: async () => {
      await gate;
      return Object.assign([{ device: "dpu-front", time: new Date(lastCrossing) }], { groups: () => [] });
    },
  } as unknown as InfluxDB;
  return { influx, release };
}

describe("DeviceHealth", () => {
  it("keeps what it read when the site was forgotten during the read (a snapshot being served)", async () => {
    const now = Date.now();
    const { influx, release } = heldInflux(now - 1000);
    const health = new DeviceHealth(influx, "footfall", 60_000);
    const reading = health.refresh(topo, now);
    health.forget("mall"); // the poll timer: no registered client for the site yet
    release();
    const { all, changed } = await reading;
    expect(all).toEqual([{ device: "dpu-front", kind: "dpu", state: "online", lastSeen: now - 1000 }]);
    expect(changed).toEqual(all);
    expect(health.covers(topo)).toBe(true);
    expect(health.current("mall")).toEqual(all);
  });

  it("calls a DPU silent after the silence window and unknown when it never crossed", async () => {
    const now = Date.now();
    const { influx, release } = heldInflux(now - 120_000);
    release();
    const health = new DeviceHealth(influx, "footfall", 60_000);
    expect((await health.refresh(topo, now)).all[0]).toMatchObject({ state: "silent" });
    const never = new DeviceHealth({ query: async () => [] } as unknown as InfluxDB, "footfall", 60_000);
    expect((await never.refresh(topo, now)).all[0]).toMatchObject({ state: "unknown", lastSeen: null });
  });
});
