/**
 * The DPU site of the load benches (ingest, soak, scale-out): every DPU sits on its own doorway
 * from outside into its own space and sends only +1 crossings, so each space's final count must
 * equal the distinct crossings sent to it: fewer = lost, more = doubled.
 */
import type { InfluxDB } from "influx";

export interface BenchDpu { id: string; doorway: string; space: string; secret: string }

/** `n` DPUs; their ids and secrets start with `prefix` (device ids are unique across sites) */
export function benchDpus(n: number, prefix: string): BenchDpu[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-dpu-${i}`, doorway: `door-${i}`, space: `space-${i}`, secret: `${prefix}-secret-${i}` }));
}

/** the spaces, doorways and devices of a topology document for `dpus` */
export function dpuTopology(dpus: BenchDpu[]) {
  return {
    spaces: dpus.map((d) => ({ id: d.space, name: d.space })),
    doorways: dpus.map((d) => ({ id: d.doorway, entering_to: d.space, exiting_to: "outside" })),
    devices: dpus.map((d) => ({ id: d.id, kind: "dpu" as const, doorway: d.doorway, secret: d.secret })),
  };
}

/** Crossings lost and doubled: each space's last count in InfluxDB against `sentPer[i]` distinct crossings of DPU i. */
export async function lostAndDoubled(influx: InfluxDB, site: string, dpus: BenchDpu[], sentPer: number[]): Promise<{ lost: number; doubled: number }> {
  const rows = await influx.query<{ space: string; last: number }>(`SELECT last("count") FROM "occupancy" WHERE "site" = '${site}' GROUP BY "space"`);
  const counts = new Map((rows as unknown as Array<{ space: string; last: number }>).map((r) => [r.space, r.last]));
  let lost = 0, doubled = 0;
  dpus.forEach((d, i) => {
    const got = counts.get(d.space) ?? 0;
    if (got < sentPer[i]!) lost += sentPer[i]! - got; else doubled += got - sentPer[i]!;
  });
  return { lost, doubled };
}
