import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InfluxDB, IPoint } from "influx";
import type { CrossingMsg } from "../../../contracts/occupancy-messages.ts";
import { StaticTopologyLookup } from "../../../topology/topology-lookup.ts";
import { occupancySchemas } from "../../../contracts/occupancy-store.ts";
import { influxClient, provisionInflux } from "../../../infra/provision.ts";
import { startTestServices, type TestServices } from "../../support/services.ts";
import { OccupancyHarness, siteTruth } from "./occupancy-harness.ts";
import { prng, truthAt } from "./ground-truth.ts";

const DB = "footfall_occ_test";
const topology = new StaticTopologyLookup([{
  site: "mall",
  doorways: [
    { id: "main", entering_to: "lobby", exiting_to: "outside" },
    { id: "inner", entering_to: "hall", exiting_to: "lobby" },
  ],
}]);
const SPACES = ["lobby", "hall"];

let services: TestServices;
let influx: InfluxDB;

beforeAll(async () => {
  services = await startTestServices({ nats: false });
  influx = influxClient(services.influxUrl, DB);
  for (const s of occupancySchemas(DB)) influx.addSchema(s);
  await provisionInflux(influx, { influxDb: DB, rawRetention: "30d", rollupRetention: "INF" });
});
afterAll(async () => { await services?.stop(); });

async function lastAt(measurement: string, where: string, t: number): Promise<number> {
  const rows = await influx.query<{ last: number }>(`SELECT last("count") FROM "${measurement}" WHERE ${where} AND time <= ${t}ms`);
  return rows[0]?.last ?? 0;
}

describe("occupancy history in a real InfluxDB", () => {
  it("after late crossings, last(count) at any instant equals ground truth for every space and the site", async () => {
    const rnd = prng(11);
    const t0 = Date.now() - 3_600_000; // recent: inside the raw retention policy
    const crossings: CrossingMsg[] = [];
    for (let i = 0; i < 300; i++) {
      const doorway = rnd() < 0.5 ? "main" : "inner";
      // 3 s of traffic: several crossings share a millisecond
      crossings.push({ type: "crossing", site: "mall", doorway, device: `dpu-${doorway}`, eventId: `e${i}`,
        ts: t0 + Math.floor(rnd() * 3000), delta: rnd() < 0.6 ? 1 : -1, receivedAt: t0 });
    }
    const late = crossings.filter((_, i) => i % 5 === 0);
    const onTime = crossings.filter((_, i) => i % 5 !== 0).sort((a, b) => a.ts - b.ts);

    let pending: IPoint[] = [];
    const h = new OccupancyHarness({ topology, lateHorizonHours: 1, onWrite: (p) => pending.push(...p) });
    const writeAll = async () => {
      // precision "n": every timestamp is an integer nanosecond string
      for (let i = 0; i < pending.length; i += 5000) await influx.writePoints(pending.slice(i, i + 5000), { precision: "n" });
      pending = [];
    };
    for (const c of onTime) h.crossing(c);
    h.settle();
    await writeAll();
    // the late fifth arrives afterwards, out of order, some twice
    for (const c of [...late].reverse()) h.crossing(c);
    for (const c of late.slice(0, 10)) h.crossing(c);
    h.settle();
    await writeAll();

    const truth = siteTruth(crossings, topology, SPACES);
    const instants = [t0 - 1, ...Array.from({ length: 15 }, () => t0 + Math.floor(rnd() * 3100)), t0 + 5000];
    for (const t of instants) {
      for (const space of SPACES) {
        expect(await lastAt("occupancy", `"site" = 'mall' AND "space" = '${space}'`, t), `${space} at ${t}`).toBe(truthAt(truth.perSpace.get(space)!, t));
      }
      expect(await lastAt("site_occupancy", `"site" = 'mall'`, t), `site at ${t}`).toBe(truthAt(truth.site, t));
    }
    // a late event's own instant and the one just before it
    const probe = late[3]!.ts;
    for (const t of [probe - 1, probe]) {
      expect(await lastAt("occupancy", `"site" = 'mall' AND "space" = 'lobby'`, t)).toBe(truthAt(truth.perSpace.get("lobby")!, t));
    }

    // every crossing is its own raw point, same-millisecond ones included; fields are integers
    const [raw] = await influx.query<{ n: number; net: number }>(`SELECT count("delta") AS n, sum("delta") AS net FROM "crossings" WHERE "site" = 'mall'`);
    expect(raw!.n).toBe(crossings.length);
    expect(raw!.net).toBe(crossings.reduce((s, c) => s + c.delta, 0));
    const fields = await influx.query<{ fieldKey: string; fieldType: string }>(`SHOW FIELD KEYS ON "${DB}"`);
    expect(fields.map((f) => f.fieldType)).toEqual(fields.map(() => "integer"));
    expect(fields.length).toBeGreaterThanOrEqual(3);
  });
});
