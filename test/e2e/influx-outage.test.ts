import { afterEach, describe, expect, it } from "vitest";
import { STREAM_ACTORS } from "../../contracts/nats-layout.ts";
import { MEASUREMENT_CROSSINGS } from "../../contracts/occupancy-store.ts";
import { connectNats } from "../../infra/nats.ts";
import { influxClient } from "../../infra/provision.ts";
import { startTestStack, type HostProcess, type TestStack } from "../support/stack.ts";
import { eventually } from "../support/retry.ts";
import { countActorBodies } from "../support/stream-read.ts";
import { runOccupancyScenario } from "./occupancy-scenario.ts";

/**
 * InfluxDB down for ~30 s under a steady load of crossings (real nats-server, influxd, broker,
 * API, actor host processes): the host's /healthz goes 503 with a reason while writes fail and
 * 200 again after, its backlog shows in /metrics, and afterwards every space's history in
 * InfluxDB equals ground truth at 20 sampled instants with exactly one point per crossing (none
 * lost, none doubled) — also when the host is SIGKILLed during the outage and a new one takes over.
 */
const UNHEALTHY_S = 3;
const BUFFER_POINTS = 200;
const DOWN_MS = 30_000;

interface Observed {
  statuses: number[]; reasons: string[]; maxBacklog: number; maxDepth: number;
  /** per probe: messages handled so far, messages waiting in the partitions, points waiting */
  samples: Array<{ handled: number; depth: number; backlog: number }>;
}
const observed = (): Observed => ({ statuses: [], reasons: [], maxBacklog: 0, maxDepth: 0, samples: [] });

async function probe(host: HostProcess, seen: Observed): Promise<void> {
  try {
    const r = await fetch(`http://127.0.0.1:${host.opsPort}/healthz`);
    seen.statuses.push(r.status);
    const body = (await r.json()) as { reason?: string };
    if (body.reason) seen.reasons.push(body.reason);
    const metrics = await (await fetch(`http://127.0.0.1:${host.opsPort}/metrics`)).text();
    const backlog = Number(/^footfall_actor_influx_backlog_points(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0);
    seen.maxBacklog = Math.max(seen.maxBacklog, backlog);
    let depth = 0;
    for (const m of metrics.matchAll(/^footfall_actor_mailbox_depth\{[^}]*\} (\d+)/gm)) depth += Number(m[1]);
    seen.maxDepth = Math.max(seen.maxDepth, depth);
    let handled = 0;
    for (const m of metrics.matchAll(/^footfall_actor_messages_total\{[^}]*\} (\d+)/gm)) handled += Number(m[1]);
    seen.samples.push({ handled, depth, backlog });
  } catch { /* a host being killed */ }
}

/** Polls `host()` every 250 ms until stopped. */
function watch(host: () => HostProcess, seen: Observed): () => Promise<void> {
  let on = true;
  const loop = (async () => { while (on) { await probe(host(), seen); await new Promise((r) => setTimeout(r, 250)); } })();
  return async () => { on = false; await loop; };
}

/** Messages stored in FF_ACTORS, a batch counted as its items (as the actors count what they handled). */
async function streamMessages(stack: TestStack): Promise<number> {
  const nc = await connectNats(stack.cfg.natsUrl!, "influx-outage-test");
  try {
    return await countActorBodies(nc, STREAM_ACTORS, ">");
  } finally {
    await nc.close();
  }
}

async function crossingPoints(stack: TestStack, site: string): Promise<number> {
  const influx = influxClient(stack.cfg.influxUrl!, stack.cfg.influxDb);
  const rows = await influx.query<{ n: number }>(`SELECT count("delta") AS n FROM "${MEASUREMENT_CROSSINGS}" WHERE "site" = '${site}'`);
  return Number(rows[0]?.n ?? 0);
}

describe("InfluxDB down for 30 s under load (real services, actor host processes)", { timeout: 300_000 }, () => {
  let stack: TestStack | undefined;
  afterEach(async () => { await stack?.services.startInflux().catch(() => {}); await stack?.stop(); stack = undefined; });

  const hostEnv = { FOOTFALL_INFLUX_UNHEALTHY_S: String(UNHEALTHY_S), FOOTFALL_INFLUX_BUFFER_POINTS: String(BUFFER_POINTS) };

  it("/healthz is 503 during the outage and 200 after; history exact, one point per crossing", async () => {
    stack = await startTestStack({ hosts: 1, hostEnv });
    const s = stack;
    const before = observed();
    await probe(s.hosts[0]!, before);
    expect(before.statuses).toEqual([200]);
    const during = observed();
    const atEnd = { stream: 0, handled: 0 };
    const result = await runOccupancyScenario(s, {
      site: "mall-influx-a", seed: 21,
      midRun: async () => {
        await s.services.killInflux();
        const stop = watch(() => s.hosts[0]!, during);
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await stop();
        atEnd.handled = during.samples.at(-1)?.handled ?? 0;
        atEnd.stream = await streamMessages(s);
        await s.services.startInflux();
        await eventually("healthz 200 once InfluxDB is back", async () => (await fetch(`http://127.0.0.1:${s.hosts[0]!.opsPort}/healthz`)).status === 200, 60_000);
      },
    });
    expect(during.statuses).toContain(503);
    expect(during.reasons.some((r) => /InfluxDB writes have failed for \d+ s/.test(r))).toBe(true);
    expect(during.maxBacklog).toBeGreaterThan(0);
    // back-pressure: with the backlog at its bound, the partitions left messages in the stream
    expect(during.maxBacklog).toBeGreaterThanOrEqual(BUFFER_POINTS);
    expect(during.maxDepth).toBeGreaterThan(0);
    // ... and stopped taking them: at the end of the outage, far more messages were in the stream
    // than the host had handled (without the bound it handles them all and holds their points)
    expect(atEnd.stream - atEnd.handled, JSON.stringify(atEnd)).toBeGreaterThan(BUFFER_POINTS);
    await eventually("one crossing point per crossing", async () => (await crossingPoints(s, "mall-influx-a")) === result.crossings, 30_000)
      .catch(async (e) => { throw new Error(`${(e as Error).message}: ${await crossingPoints(s, "mall-influx-a")} points, ${result.crossings} crossings`); });
  });

  it("stays exact when the host is SIGKILLed during the outage and a new host takes over before InfluxDB returns", async () => {
    stack = await startTestStack({ hosts: 1, hostEnv });
    const s = stack;
    const during = observed();
    let current = s.hosts[0]!;
    const result = await runOccupancyScenario(s, {
      site: "mall-influx-b", seed: 22,
      midRun: async () => {
        await s.services.killInflux();
        const stop = watch(() => current, during);
        await new Promise((r) => setTimeout(r, DOWN_MS / 2));
        await current.kill();
        current = await s.startHost({ healthy: false });
        await new Promise((r) => setTimeout(r, DOWN_MS / 2));
        await stop();
        await s.services.startInflux();
        await eventually("healthz 200 once InfluxDB is back", async () => (await fetch(`http://127.0.0.1:${current.opsPort}/healthz`)).status === 200, 60_000);
      },
    });
    expect(during.statuses).toContain(503);
    await eventually("one crossing point per crossing", async () => (await crossingPoints(s, "mall-influx-b")) === result.crossings, 30_000)
      .catch(async (e) => { throw new Error(`${(e as Error).message}: ${await crossingPoints(s, "mall-influx-b")} points, ${result.crossings} crossings`); });
  });
});
